// Real LUKS2 on a loop device over a file: format, detect, check the key, dump. Opening needs dm-crypt, which
// this kernel lacks: that refusal is checked for what it is (FAILED_PRECONDITION NoDeviceMapper), or, on a kernel
// with device-mapper, the mapping is opened, checked and closed.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isHwError } from "../../api/errors.ts";
import { attachLoop, createSparseFile, detachLoop, type LoopDevice } from "../loop/loop.ts";
import { isLuks, keyOpens, luksClose, luksDump, luksFormat, luksOpen, status } from "./cryptsetup.ts";

const fast = { pbkdf: { type: "pbkdf2" as const, iterations: 1000 } };
let dir = "";
let dev!: LoopDevice;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hw-luks-"));
  await createSparseFile(join(dir, "v.img"), 32 * 1024 * 1024);
  dev = await attachLoop(join(dir, "v.img"));
});
after(async () => {
  if (dev) await detachLoop(dev.name).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("luksFormat with the Secret's key, isLuks, key check, luksDump", async () => {
  assert.equal(await isLuks(dev.name), false);
  await assert.rejects(luksFormat(dev.name, "", fast), /encryption key is empty/);
  assert.equal(await isLuks(dev.name), false, "an empty key formats nothing");
  await luksFormat(dev.name, "s3cret\n", fast); // the key's bytes as they are, newline included
  assert.equal(await isLuks(dev.name), true);
  assert.equal(await keyOpens(dev.name, "s3cret\n"), true);
  assert.equal(await keyOpens(dev.name, "s3cret"), false);
  const m = await luksDump(dev.name);
  assert.equal(m.keyslots.length, 1);
  assert.equal(m.segment?.cipher, "aes-xts-plain64");
});

test("luksOpen: /dev/mapper/<volume>-encrypt with dm-crypt, else NoDeviceMapper", async () => {
  const name = `hwtest-${process.pid}-encrypt`;
  try {
    const p = await luksOpen(dev.name, name, "s3cret\n");
    assert.equal(p, `/dev/mapper/${name}`);
    assert.equal((await status(name)).active, true);
  } catch (e) {
    assert.ok(isHwError(e) && e.code === "FAILED_PRECONDITION" && e.reason === "NoDeviceMapper", String(e));
    return;
  } finally {
    await luksClose(name).catch(() => undefined);
  }
});
