import { test } from "node:test";
import assert from "node:assert/strict";
import { assertPreflight, preflightProblems, type PreflightFacts } from "./preflight.ts";
import { exitCodeOf } from "../api/errors.ts";

const ok: PreflightFacts = {
  uid: 0,
  loopControl: true,
  freeBytes: 100 * 2 ** 30,
  neededBytes: 12 * 2 ** 30,
  stateDirFs: "/work",
  missingTools: [],
  netns: false,
};

test("a good machine has no problems", () => {
  assert.deepEqual(preflightProblems(ok), []);
  assert.doesNotThrow(() => assertPreflight(ok));
});

test("every problem is reported at once, each with its fix", () => {
  const p = preflightProblems({
    ...ok,
    uid: 1000,
    loopControl: false,
    freeBytes: 2 ** 30,
    missingTools: [
      { tool: "mkfs.xfs", pkg: "xfsprogs" },
      { tool: "ip", pkg: "iproute2" },
    ],
    netns: true,
    subnet: "10.209.1.0/24",
    subnetTakenBy: "eth1",
  });
  assert.equal(p.length, 5);
  assert.match(p[0]!, /not running as root.*sudo/);
  assert.match(p[1]!, /loop-control.*modprobe loop/);
  assert.match(p[2]!, /need 12Gi, 1Gi is free/);
  assert.match(p[3]!, /mkfs.xfs, ip .*apt-get install -y xfsprogs iproute2/);
  assert.match(p[4]!, /10.209.1.0\/24 .* eth1/);
  assert.throws(
    () => assertPreflight({ ...ok, uid: 1 }),
    (e: any) => /nothing was changed/.test(e.message) && exitCodeOf(e) === 1,
  );
});
