// The block stream (offline mode: files have no reflink clones here) over a real TCP socket between two files:
// data and checksums match, zero chunks are not sent and a target holding old bytes is zeroed first, a wrong token
// is refused, a target too small is refused before anything is written. The online rounds: precopy.host.test.ts.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { until } from "../engines/host-test-helpers.ts";
import { checksumOf, newToken, receiveDevice, serveDevice, type ServeResult } from "./stream.ts";

const dir = mkdtempSync(join(tmpdir(), "hw-stream-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("copy 9 MiB + 5 bytes (3 MiB of it zeros) in 1 MiB chunks over a dirty target; both checksums agree and equal a fresh read", async () => {
  const src = join(dir, "src");
  const dst = join(dir, "dst");
  const size = 9 * 1024 * 1024 + 5;
  const data = randomBytes(size);
  data.fill(0, 2 * 1024 * 1024, 5 * 1024 * 1024);
  writeFileSync(src, data);
  writeFileSync(dst, randomBytes(size + 4096));
  const token = newToken();
  const done: ServeResult[] = [];
  const errors: Error[] = [];
  const srv = await serveDevice({ host: "127.0.0.1", devPath: src, token, onDone: (r) => done.push(r), onError: (e) => errors.push(e) });
  try {
    let last = 0;
    const r = await receiveDevice({ host: "127.0.0.1", port: srv.port, token, devPath: dst, onProgress: (b) => (last = b) });
    assert.equal(r.bytes, size - 3 * 1024 * 1024, "the three zero chunks are not sent");
    assert.equal(last, r.bytes);
    assert.equal(r.rounds.length, 1);
    await until(() => done.length + errors.length > 0, "the source's end of the stream");
    assert.deepEqual(errors, []);
    assert.equal(done.length, 1);
    assert.equal(done[0]!.checksum, r.checksum, "source and target checksums");
    assert.equal(done[0]!.targetChecksum, r.checksum);
    assert.equal(await checksumOf(src, size), r.checksum);
    assert.ok(readFileSync(dst).subarray(0, size).equals(readFileSync(src)), "bytes equal");

    await assert.rejects(receiveDevice({ host: "127.0.0.1", port: srv.port, token: newToken(), devPath: dst }), /ended early|closed/);
    await new Promise((res) => setTimeout(res, 50));
    assert.match(String(errors[0]), /wrong sync token/);

    const small = join(dir, "small");
    writeFileSync(small, Buffer.alloc(1024));
    await assert.rejects(receiveDevice({ host: "127.0.0.1", port: srv.port, token, devPath: small }), /holds 1024 bytes, the source sends/);
    assert.equal(
      readFileSync(small).every((b) => b === 0),
      true,
      "nothing written to a too-small target",
    );
  } finally {
    await srv.close();
  }
});
