// X.509 certificates built in-process (no openssl exec), for the servers
// Kubernetes talks to over TLS: the embedded API server (a self-signed certificate that is its own CA), the
// admission webhook (a CA and a serving certificate it signs, so the certificate can be renewed without
// changing the caBundle) and the scheduler extender. ECDSA P-256, SHA-256.
// Minimal DER encoding of X.509 v3 (RFC 5280): only the fields a verifier (Go's crypto/x509, OpenSSL, Node)
// needs — no key identifiers, so chains are built by subject/issuer name.

import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { isIP } from "node:net";

export interface CertificatePem {
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

const DAY_MS = 24 * 3600_000;
const commonName = (cn: string) => seq(set(seq(oid("2.5.4.3"), utf8(cn))));

export interface CertificateRequest {
  commonName: string;
  /** DNS names and IP addresses (subjectAltName); none for a CA that serves nothing. */
  hosts?: string[];
  /** A CA (basicConstraints CA:TRUE, keyCertSign). */
  isCA?: boolean;
  /** Also a TLS server certificate (extKeyUsage serverAuth). Default: true. */
  serverAuth?: boolean;
  validDays: number;
  /** Signed by this CA; self-signed when absent. */
  issuer?: CertificatePem;
  now?: Date;
}

/** Builds a certificate and its new private key. */
export function issueCertificate(r: CertificateRequest): CertificatePem {
  const now = r.now ?? new Date();
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const sigAlg = seq(oid("1.2.840.10045.4.3.2")); // ecdsa-with-SHA256
  const subject = commonName(r.commonName);
  let issuerName: Buffer = subject;
  let signingKey = privateKey;
  if (r.issuer) {
    const ca = new X509Certificate(r.issuer.certPem);
    if (!ca.ca) throw new Error(`issuer ${ca.subject} is not a CA`);
    issuerName = issuerNameOf(ca);
    signingKey = createPrivateKey(r.issuer.keyPem);
  }
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + r.validDays * DAY_MS);
  const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
  const exts: Buffer[] = [
    ext("2.5.29.19", true, r.isCA ? seq(bool(true)) : seq()), // basicConstraints
    // keyUsage: digitalSignature (+ keyCertSign for a CA)
    ext("2.5.29.15", true, r.isCA ? bits(Buffer.from([0x84]), 2) : bits(Buffer.from([0x80]), 7)),
  ];
  if (r.serverAuth ?? true) exts.push(ext("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1")))); // extKeyUsage serverAuth
  const hosts = [...new Set(r.hosts ?? [])];
  if (hosts.length) {
    const sans = hosts.map((h) => (isIP(h) ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, "ascii"))));
    exts.push(ext("2.5.29.17", false, seq(...sans))); // subjectAltName
  }
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, 16 significant bytes (RFC 5280 §4.1.2.2)
  const tbs = seq(
    explicit(0, int(Buffer.from([2]))),
    int(serial),
    sigAlg,
    issuerName,
    seq(time(notBefore), time(notAfter)),
    subject,
    Buffer.from(spki),
    explicit(3, seq(...exts)),
  );
  const signature = sign("sha256", tbs, signingKey);
  const der = seq(tbs, sigAlg, bits(signature));
  const b64 = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trim();
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

/** The DER subject Name of a certificate (what a certificate it signs names as its issuer). */
function issuerNameOf(ca: X509Certificate): Buffer {
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serial, sigAlg, issuer, validity, subject, ... } }
  const der = ca.raw;
  const read = (at: number): { tag: number; start: number; end: number } => {
    const tag = der[at]!;
    let l = der[at + 1]!;
    let start = at + 2;
    if (l & 0x80) {
      const n = l & 0x7f;
      l = 0;
      for (let i = 0; i < n; i++) l = (l << 8) | der[at + 2 + i]!;
      start = at + 2 + n;
    }
    return { tag, start, end: start + l };
  };
  const cert = read(0);
  const tbs = read(cert.start);
  let at = tbs.start;
  const fields: Array<{ start: number; end: number }> = [];
  while (at < tbs.end && fields.length < 6) {
    const f = read(at);
    fields.push({ start: at, end: f.end });
    at = f.end;
  }
  // fields: version, serial, signature, issuer, validity, subject
  const subject = fields[5]!;
  return Buffer.from(der.subarray(subject.start, subject.end));
}

/** Whether a PEM certificate parses and is valid at `now` for at least `marginMs` more. */
export function validFor(certPem: string, marginMs: number, now = new Date()): boolean {
  try {
    const x = new X509Certificate(certPem);
    return new Date(x.validFrom).getTime() <= now.getTime() && new Date(x.validTo).getTime() - marginMs > now.getTime();
  } catch {
    return false;
  }
}
