import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moduleListed, parseDmTargets, probeDmFeatures } from "./targets.ts";

test("SYNTHETIC dmsetup targets", () => {
  const t = parseDmTargets(readFileSync(new URL("./testdata/dmsetup-targets-SYNTHETIC.txt", import.meta.url), "utf8"));
  assert.equal(t.get("thin-pool"), "1.23.0");
  assert.equal(t.get("crypt"), "1.24.0");
  assert.equal(t.get("snapshot-merge"), "1.5.0");
  assert.equal(t.size, 9);
  assert.equal(parseDmTargets("garbage\n").size, 0);
});

test("modules.dep / modules.builtin lookup", () => {
  assert.ok(moduleListed("kernel/drivers/md/dm-crypt.ko.zst: kernel/drivers/md/dm-mod.ko.zst\n", "dm_crypt"));
  assert.ok(moduleListed("kernel/drivers/md/dm-thin-pool.ko: kernel/drivers/md/persistent-data/dm-persistent-data.ko\n", "dm_thin_pool"));
  assert.ok(moduleListed("kernel/drivers/md/dm-snapshot.ko\n", "dm_snapshot"));
  assert.ok(!moduleListed("kernel/drivers/md/dm-cryptx.ko\n", "dm_crypt"));
});

test("probe: this kernel (no device-mapper) reports the reason for every feature", async () => {
  const f = await probeDmFeatures({ controlPath: "/nonexistent/control" });
  for (const k of ["snapshot", "thin", "crypt"] as const) {
    assert.equal(f[k].available, false);
    assert.match(f[k].reason, /device-mapper unavailable: open \/nonexistent\/control: ENOENT/);
  }
});

test("probe with a control node that opens: module and tool lookups decide", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hw-dm-"));
  try {
    await writeFile(join(dir, "control"), ""); // opens r+ like a working /dev/mapper/control
    await mkdir(join(dir, "sys", "dm_crypt"), { recursive: true });
    await mkdir(join(dir, "mods"));
    await writeFile(join(dir, "mods", "modules.dep"), "kernel/drivers/md/dm-snapshot.ko.xz: kernel/drivers/md/dm-bufio.ko.xz\n");
    await mkdir(join(dir, "bin"));
    for (const t of ["cryptsetup", "lvcreate"]) await writeFile(join(dir, "bin", t), "");
    const f = await probeDmFeatures({
      controlPath: join(dir, "control"),
      sysModuleDir: join(dir, "sys"),
      modulesDir: join(dir, "mods"),
      toolDirs: [join(dir, "bin")],
    });
    assert.deepEqual(f.crypt, { available: true, reason: "module dm_crypt loaded" });
    assert.deepEqual(f.snapshot, { available: true, reason: "module dm_snapshot installed" });
    assert.equal(f.thin.available, false);
    assert.match(f.thin.reason, /module dm_thin_pool not installed/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
