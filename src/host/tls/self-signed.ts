// A self-signed serving certificate for the embedded API server and the REST server, built in-process (no openssl exec:
// only src/host spawns processes). kubectl (client-go) never sends a bearer token over plain HTTP, so
// the kubeconfig points at HTTPS with this certificate as its CA. The certificate is its own CA
// (basicConstraints CA:TRUE) with SANs localhost, 127.0.0.1, ::1 and the listen host; ECDSA P-256.
// Minimal DER encoding of X.509 v3 (RFC 5280) below: only the fields a verifier needs.

import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";

export interface ServingCert {
  certPem: string;
  keyPem: string;
}

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>= 8;
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]) => {
  const c = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(c.length), c]);
};
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);
/** DER INTEGER of an unsigned big-endian number: minimal (no redundant leading zero), positive. */
function int(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));
const explicit = (n: number, c: Buffer) => tlv(0xa0 + n, c);

function oid(text: string): Buffer {
  const arcs = text.split(".").map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const a of arcs.slice(2)) {
    const stack: number[] = [a & 0x7f];
    let v = a >>> 7;
    while (v > 0) {
      stack.unshift(0x80 | (v & 0x7f));
      v >>>= 7;
    }
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z"; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(s.slice(2))) : tlv(0x18, Buffer.from(s));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  // IPv6: expand "::"
  const [head, tail] = ip.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || "0", 16), i * 2));
  return b;
}

/** Builds a self-signed CA+server certificate for the given host names/IPs. */
export function selfSignedCert(hosts: string[], now = new Date()): ServingCert {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const sigAlg = seq(oid("1.2.840.10045.4.3.2")); // ecdsa-with-SHA256
  const name = seq(set(seq(oid("2.5.4.3"), utf8("hwameistor-apiserver"))));
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600_000);
  const sans = [...new Set(["localhost", "127.0.0.1", "::1", ...hosts])].map((h) =>
    isIP(h) ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, "ascii")),
  );
  const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, 16 significant bytes (RFC 5280 §4.1.2.2)
  const tbs = seq(
    explicit(0, int(Buffer.from([2]))),
    int(serial),
    sigAlg,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    Buffer.from(spki),
    explicit(3, seq(
      ext("2.5.29.19", true, seq(bool(true))), // basicConstraints CA:TRUE
      ext("2.5.29.15", true, bits(Buffer.from([0x84]), 2)), // keyUsage digitalSignature, keyCertSign
      ext("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage serverAuth
      ext("2.5.29.17", false, seq(...sans)), // subjectAltName
    )),
  );
  const signature = sign("sha256", tbs, privateKey);
  const der = seq(tbs, sigAlg, bits(signature));
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n").trim();
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

/** Loads <dataDir>/tls.{crt,key} when they were made for `host`, else makes and stores new ones (0600). */
function parses(certPem: string): boolean {
  try {
    new X509Certificate(certPem);
    return true;
  } catch {
    return false;
  }
}

export function loadOrCreateServingCert(dataDir: string, host: string): ServingCert {
  const crt = join(dataDir, "tls.crt");
  const key = join(dataDir, "tls.key");
  const stamp = join(dataDir, "tls.host");
  if (existsSync(crt) && existsSync(key) && existsSync(stamp) && readFileSync(stamp, "utf8") === host) {
    const keyPem = readFileSync(key, "utf8");
    createPublicKey(createPrivateKey(keyPem)); // throws on a corrupt key: better at start than at first request
    const certPem = readFileSync(crt, "utf8");
    // Earlier versions could write a certificate with a non-minimal serial that no TLS stack parses; such a
    // file is replaced rather than failing every start.
    if (parses(certPem)) return { certPem, keyPem };
  }
  const c = selfSignedCert(host === "0.0.0.0" || host === "::" ? [] : [host]);
  writeFileSync(key, c.keyPem, { mode: 0o600 });
  chmodSync(key, 0o600);
  writeFileSync(crt, c.certPem, { mode: 0o644 });
  writeFileSync(stamp, host);
  return c;
}
