// Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) for the few
// built-in kinds that kubectl's `create <kind>` subcommands send as protobuf: Namespace, ConfigMap and
// Secret. (client-go has no fallback to JSON for request bodies.) The envelope is "k8s\0" + a
// runtime.Unknown message; field numbers follow k8s.io/api/core/v1/generated.proto. Responses are
// always JSON. Other kinds in protobuf get 415 naming the kind.

import { HwError } from "../api/errors.ts";

type Kind = "string" | "bytes" | "int64" | "int32" | "bool" | "time" | { msg: Schema } | { map: "string" | "bytes" } | { repeated: Kind };
type Schema = Record<number, [string, Kind]>;

const time: Kind = "time";
const ownerReference: Schema = {
  1: ["kind", "string"],
  3: ["name", "string"],
  4: ["uid", "string"],
  5: ["apiVersion", "string"],
  6: ["controller", "bool"],
  7: ["blockOwnerDeletion", "bool"],
};
const objectMeta: Schema = {
  1: ["name", "string"],
  2: ["generateName", "string"],
  3: ["namespace", "string"],
  5: ["uid", "string"],
  6: ["resourceVersion", "string"],
  7: ["generation", "int64"],
  8: ["creationTimestamp", time],
  9: ["deletionTimestamp", time],
  10: ["deletionGracePeriodSeconds", "int64"],
  11: ["labels", { map: "string" }],
  12: ["annotations", { map: "string" }],
  13: ["ownerReferences", { repeated: { msg: ownerReference } }],
  14: ["finalizers", { repeated: "string" }],
};
const schemas: Record<string, Schema> = {
  Namespace: {
    1: ["metadata", { msg: objectMeta }],
    2: ["spec", { msg: { 1: ["finalizers", { repeated: "string" }] } }],
    3: ["status", { msg: { 1: ["phase", "string"] } }],
  },
  ConfigMap: { 1: ["metadata", { msg: objectMeta }], 2: ["data", { map: "string" }], 3: ["binaryData", { map: "bytes" }], 4: ["immutable", "bool"] },
  Secret: {
    1: ["metadata", { msg: objectMeta }],
    2: ["data", { map: "bytes" }],
    3: ["type", "string"],
    4: ["stringData", { map: "string" }],
    5: ["immutable", "bool"],
  },
};
const typeMeta: Schema = { 1: ["apiVersion", "string"], 2: ["kind", "string"] };
const unknownMsg: Schema = { 1: ["typeMeta", { msg: typeMeta }], 2: ["raw", "bytes"], 3: ["contentEncoding", "string"], 4: ["contentType", "string"] };

const unsupported = (what: string) =>
  new HwError(
    "INVALID_ARGUMENT",
    "UnsupportedMediaType",
    `protobuf request bodies are supported only for Namespace, ConfigMap and Secret, not ${what}; send JSON or YAML`,
    {
      httpStatus: 415,
      statusReason: "UnsupportedMediaType",
    },
  );
const malformed = (why: string) =>
  new HwError("INVALID_ARGUMENT", "BadRequest", `malformed protobuf body: ${why}`, { httpStatus: 400, statusReason: "BadRequest" });

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done() {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw malformed("truncated varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 70n) throw malformed("varint too long");
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw malformed("truncated field");
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw malformed(`unsupported wire type ${wire}`);
  }
}

function decodeMessage(buf: Buffer, schema: Schema): Record<string, any> {
  const r = new Reader(buf);
  const out: Record<string, any> = {};
  while (!r.done) {
    const tag = Number(r.varint());
    const field = tag >>> 3;
    const wire = tag & 7;
    const def = schema[field];
    if (!def) {
      r.skip(wire);
      continue;
    }
    const [name, kind] = def;
    if (typeof kind === "object" && "repeated" in kind) {
      (out[name] ??= []).push(decodeValue(r, wire, kind.repeated));
    } else if (typeof kind === "object" && "map" in kind) {
      const entry = decodeMessage(r.bytes(), { 1: ["k", "string"], 2: ["v", kind.map] });
      (out[name] ??= {})[entry.k ?? ""] = entry.v ?? "";
    } else {
      const v = decodeValue(r, wire, kind);
      // gogo-protobuf writes empty optional strings and zero numbers; Go's JSON omits them (omitempty).
      if (v !== "" && v !== 0) out[name] = v;
    }
  }
  return out;
}

function decodeValue(r: Reader, wire: number, kind: Kind): any {
  if (kind === "int64" || kind === "int32") return Number(BigInt.asIntN(64, r.varint()));
  if (kind === "bool") return r.varint() !== 0n;
  if (wire !== 2) throw malformed("unexpected wire type");
  const b = r.bytes();
  if (kind === "string") return b.toString("utf8");
  if (kind === "bytes") return b.toString("base64");
  if (kind === "time") {
    const t = decodeMessage(b, { 1: ["s", "int64"], 2: ["n", "int32"] });
    return new Date((t.s ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  if (typeof kind === "object" && "msg" in kind) return decodeMessage(b, kind.msg);
  throw malformed("unsupported field kind");
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"

/** Decodes a Kubernetes protobuf body into the JSON object it stands for; 415 for unsupported kinds. */
export function decodeKubeProtobuf(buf: Buffer): any {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) throw malformed("missing the k8s protobuf envelope");
  const env = decodeMessage(buf.subarray(4), unknownMsg);
  const kind: string = env.typeMeta?.kind ?? "";
  const schema = schemas[kind];
  if (!schema) throw unsupported(kind || "an unknown kind");
  const obj = decodeMessage(Buffer.from(env.raw ?? "", "base64"), schema);
  return { apiVersion: env.typeMeta?.apiVersion, kind, ...obj };
}

// ---- encoding: the OpenAPI v2 document kubectl asks for ------------------------------------------------

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
/** One length-delimited field (wire type 2). */
const lenField = (field: number, body: Buffer): Buffer => Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
const strField = (field: number, s: string): Buffer => lenField(field, Buffer.from(s, "utf8"));

/** The response type kube-apiserver sends (the "@" form kubectl puts in Accept is not a valid media type for Go's mime parser). */
export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/**
 * GET /openapi/v2 as protobuf (gnostic `openapi.v2.Document`), which is the only form kubectl asks for. It
 * carries no definitions, ON PURPOSE: kubectl uses this document only (1) to validate client-side the kinds
 * whose group-version has no /openapi/v3 document — i.e. kinds this server does not serve, which must reach
 * the ordinary "no matches for kind" error rather than fail inside validation — and (2) to compute strategic
 * merge patches, where a missing definition makes kubectl use its compiled-in Go types (what it does against
 * a real server for built-ins too). Served kinds are validated server-side (fieldValidation=Strict, v3).
 * Field numbers: Document{swagger=1, info=2, paths=8}, Info{title=1, version=2}.
 */
export function openApiV2Protobuf(title: string, version: string): Buffer {
  return Buffer.concat([strField(1, "2.0"), lenField(2, Buffer.concat([strField(1, title), strField(2, version)])), lenField(8, Buffer.alloc(0))]);
}
