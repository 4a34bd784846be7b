// LUKS of a replica device on a real loop device: formatted once with the Secret's key, never re-formatted, a
// changed key refused with nothing changed. Opening needs dm-crypt (absent here): checked for its refusal.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isHwError } from "../../../api/errors.ts";
import { luksDump } from "../../../host/cryptsetup/cryptsetup.ts";
import { attachLoop, createSparseFile, detachLoop, type LoopDevice } from "../../../host/loop/loop.ts";
import { hasDeviceMapper } from "../../engines/dm.ts";
import { closeLuks, ensureLuks, openLuks } from "./luks.ts";

const fast = { pbkdf: { type: "pbkdf2" as const, iterations: 1000 } };
let dir = "";
let dev!: LoopDevice;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hw-luks-replica-"));
  await createSparseFile(join(dir, "r.img"), 32 * 1024 * 1024);
  dev = await attachLoop(join(dir, "r.img"));
});
after(async () => {
  if (dev) await detachLoop(dev.name).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("a replica device is formatted once; a changed key is refused and nothing changes", async () => {
  const key = Buffer.from("passphrase-1"); // the Secret's `key` (its checks: src/api/encryption.test.ts)
  assert.equal(await ensureLuks(dev.name, key, "pvc-e1", fast), "formatted");
  const header = await luksDump(dev.name);
  assert.equal(await ensureLuks(dev.name, key, "pvc-e1", fast), "present", "a second pass (crash, agent restart) does not re-format");
  assert.deepEqual(await luksDump(dev.name), header);
  await assert.rejects(
    ensureLuks(dev.name, Buffer.from("passphrase-2"), "pvc-e1", fast),
    (e) => isHwError(e) && e.reason === "EncryptionKeyMismatch" && /refusing to re-format/.test(e.message),
  );
  assert.deepEqual(await luksDump(dev.name), header, "nothing changed");
});

test("open/close at publish: /dev/mapper/<volume>-encrypt with dm-crypt, NoDeviceMapper here", async () => {
  const dm = await hasDeviceMapper();
  try {
    const p = await openLuks(dev.name, Buffer.from("passphrase-1"), `pvc-e1-${process.pid}`);
    assert.ok(dm.available);
    assert.equal(p, `/dev/mapper/pvc-e1-${process.pid}-encrypt`);
  } catch (e) {
    assert.ok(!dm.available && isHwError(e) && e.reason === "NoDeviceMapper", String(e));
  } finally {
    await closeLuks(`pvc-e1-${process.pid}`).catch(() => undefined);
  }
});
