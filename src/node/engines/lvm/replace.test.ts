// The lvm engine's disk replacement without device-mapper: refused before any command, naming why and what to do.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isHwError } from "../../../api/errors.ts";
import { LvmEngine } from "./lvm-engine.ts";

test("lvm replaceDisk without device-mapper: FAILED_PRECONDITION NoDeviceMapper, before any command", async () => {
  // No command can run: the refusal comes before the engine's lock and before any pvs/vgextend.
  const e = new LvmEngine({ deviceMapper: false, stateDir: "/nonexistent" });
  await assert.rejects(e.replaceDisk("LocalStorage_PoolHDD", "/dev/sdb", "/dev/sdc"), (err: unknown) => {
    assert.ok(isHwError(err));
    assert.equal(err.code, "FAILED_PRECONDITION");
    assert.equal(err.reason, "NoDeviceMapper");
    assert.match(err.message, /replacing \/dev\/sdb with \/dev\/sdc needs pvmove, and pvmove needs device-mapper/);
    assert.match(err.fullMessage, /LocalVolumeMigrate/);
    return true;
  });
});
