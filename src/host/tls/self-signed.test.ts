import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateServingCert, selfSignedCert } from "./self-signed.ts";

describe("self-signed serving certificate", () => {
  it("is a valid self-signed CA for localhost and the given hosts", () => {
    const c = selfSignedCert(["10.1.2.3", "node-1.example"]);
    const x = new X509Certificate(c.certPem);
    assert.ok(x.ca);
    assert.ok(x.verify(x.publicKey));
    assert.ok(x.checkIP("127.0.0.1"));
    assert.ok(x.checkIP("10.1.2.3"));
    assert.equal(x.checkHost("node-1.example"), "node-1.example");
    assert.ok(x.checkPrivateKey(createPrivateKey(c.keyPem)));
  });

  it("is stored once per host and reused", () => {
    const dir = mkdtempSync(join(tmpdir(), "hw-tls-"));
    try {
      const a = loadOrCreateServingCert(dir, "127.0.0.1");
      const b = loadOrCreateServingCert(dir, "127.0.0.1");
      assert.equal(a.certPem, b.certPem);
      const c = loadOrCreateServingCert(dir, "10.9.9.9");
      assert.notEqual(c.certPem, a.certPem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("parses whatever the random serial (DER integers are minimal)", () => {
    for (let i = 0; i < 300; i++) {
      const c = selfSignedCert(["127.0.0.1"]);
      assert.doesNotThrow(() => new X509Certificate(c.certPem), `certificate ${i} parses`);
    }
  });
});
