// A self-signed serving certificate for the embedded API server and the REST server, built in-process (no openssl exec:
// only src/host spawns processes). kubectl (client-go) never sends a bearer token over plain HTTP, so
// the kubeconfig points at HTTPS with this certificate as its CA. The certificate is its own CA
// (basicConstraints CA:TRUE) with SANs localhost, 127.0.0.1, ::1 and the listen host; ECDSA P-256.
// The DER encoding lives in x509.ts (shared with the webhook and the extender).

import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issueCertificate } from "./x509.ts";

export interface ServingCert {
  certPem: string;
  keyPem: string;
}

/** Builds a self-signed CA+server certificate for localhost and the given host names/IPs (10 years). */
export function selfSignedCert(hosts: string[], now = new Date()): ServingCert {
  return issueCertificate({ commonName: "hwameistor-apiserver", hosts: ["localhost", "127.0.0.1", "::1", ...hosts], isCA: true, validDays: 3650, now });
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
