import assert from "node:assert/strict";
import { test } from "node:test";
import { precopyRoundReady } from "./sync.ts";

const MiB = 1024 * 1024;

test("pre-copy: the cut-over may start after a small round, or from round 8 whatever the delta (a busy writer must not hold a migration forever)", () => {
  assert.equal(precopyRoundReady({ round: 0, bytes: 0 }), false, "round 0 copies the whole volume");
  assert.equal(precopyRoundReady({ round: 1, bytes: 63 * MiB }), true);
  assert.equal(precopyRoundReady({ round: 1, bytes: 64 * MiB }), false);
  assert.equal(precopyRoundReady({ round: 7, bytes: 500 * MiB }), false);
  assert.equal(precopyRoundReady({ round: 8, bytes: 500 * MiB }), true);
});
