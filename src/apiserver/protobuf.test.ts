import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HwError } from "../api/errors.ts";
import { decodeKubeProtobuf, openApiV2Protobuf } from "./protobuf.ts";

// Minimal protobuf writer for the test: (field, bytes|string|number) → length-delimited or varint.
const varint = (n: number) => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
};
const ld = (field: number, v: Buffer | string) => {
  const b = typeof v === "string" ? Buffer.from(v) : v;
  return Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
};
const vi = (field: number, n: number) => Buffer.concat([varint(field << 3), varint(n)]);
const envelope = (apiVersion: string, kind: string, raw: Buffer) =>
  Buffer.concat([Buffer.from("k8s\0", "binary"), ld(1, Buffer.concat([ld(1, apiVersion), ld(2, kind)])), ld(2, raw), ld(3, ""), ld(4, "")]);

describe("kube protobuf request bodies", () => {
  it("decodes a ConfigMap as kubectl create configmap sends it", () => {
    const meta = Buffer.concat([ld(1, "c1"), ld(2, ""), ld(3, "ns1"), ld(11, Buffer.concat([ld(1, "app"), ld(2, "x")])), ld(14, "f/1")]);
    const raw = Buffer.concat([
      ld(1, meta),
      ld(2, Buffer.concat([ld(1, "k"), ld(2, "v")])),
      ld(3, Buffer.concat([ld(1, "b"), ld(2, Buffer.from([1, 2]))])),
      vi(4, 1),
    ]);
    const obj = decodeKubeProtobuf(envelope("v1", "ConfigMap", raw));
    assert.deepEqual(obj, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c1", namespace: "ns1", labels: { app: "x" }, finalizers: ["f/1"] },
      data: { k: "v" },
      binaryData: { b: "AQI=" },
      immutable: true,
    });
  });

  it("decodes a Secret's bytes as base64 and rejects other kinds with 415", () => {
    const raw = Buffer.concat([ld(1, ld(1, "s")), ld(2, Buffer.concat([ld(1, "p"), ld(2, "x")])), ld(3, "Opaque")]);
    assert.deepEqual(decodeKubeProtobuf(envelope("v1", "Secret", raw)).data, { p: "eA==" });
    assert.throws(
      () => decodeKubeProtobuf(envelope("v1", "Pod", Buffer.alloc(0))),
      (e: HwError) => e.httpStatusOverride === 415,
    );
    assert.throws(
      () => decodeKubeProtobuf(Buffer.from("{}")),
      (e: HwError) => e.httpStatusOverride === 400,
    );
  });
});

describe("OpenAPI v2 as protobuf", () => {
  it("encodes gnostic Document{swagger=1, info=2{title=1, version=2}, paths=8}", () => {
    const b = openApiV2Protobuf("Kubernetes", "v1.32.0");
    const expected = Buffer.concat([ld(1, "2.0"), ld(2, Buffer.concat([ld(1, "Kubernetes"), ld(2, "v1.32.0")])), ld(8, Buffer.alloc(0))]);
    assert.deepEqual(b, expected);
  });
});
