import assert from "node:assert/strict";
import { test } from "node:test";
import { precopyRoundReady, sourceStep } from "./sync.ts";

const MiB = 1024 * 1024;

test("pre-copy: the cut-over may start after a small round, or from round 8 whatever the delta (a busy writer must not hold a migration forever)", () => {
  assert.equal(precopyRoundReady({ round: 0, bytes: 0 }), false, "round 0 copies the whole volume");
  assert.equal(precopyRoundReady({ round: 1, bytes: 63 * MiB }), true);
  assert.equal(precopyRoundReady({ round: 1, bytes: 64 * MiB }), false);
  assert.equal(precopyRoundReady({ round: 7, bytes: 500 * MiB }), false);
  assert.equal(precopyRoundReady({ round: 8, bytes: 500 * MiB }), true);
});

test("a restarted source whose target already confirmed the final round re-reads its device instead of serving forever", () => {
  const confirmed = { attempt: "2", final: "yes", targetAttempt: "2", targetChecksum: "crc32c:4:aa" };
  assert.equal(sourceStep(confirmed), "reread", "killed between the target's confirmation and its own");
  assert.equal(sourceStep({ ...confirmed, sourceAttempt: "2", sourceChecksum: "crc32c:4:aa" }), "done");
  assert.equal(sourceStep({ ...confirmed, sourceAttempt: "1", sourceChecksum: "crc32c:4:bb" }), "reread", "an earlier attempt's checksum does not count");
  assert.equal(sourceStep({ ...confirmed, targetAttempt: "1" }), "serve", "the target's confirmation of an earlier attempt");
  assert.equal(sourceStep({ attempt: "1", final: "yes" }), "serve", "the final round not confirmed: serve it (again)");
  assert.equal(sourceStep({ attempt: "1" }), "serve", "pre-copy");
});
