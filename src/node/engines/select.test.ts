import { test } from "node:test";
import assert from "node:assert/strict";
import { hasDeviceMapper } from "./dm.ts";
import { selectEngine } from "./select.ts";

const file = { stateDir: "/var/lib/hw-test" };
const yes = async () => ({ available: true, reason: "/dev/mapper/control opens" });
const no = async () => ({ available: false, reason: "device-mapper unavailable: open /dev/mapper/control: ENODEV" });

test("auto picks lvm with device-mapper, file without; the reason is reported", async () => {
  const a = await selectEngine("auto", { file, probe: yes });
  assert.equal(a.kind, "lvm");
  assert.equal(a.engine.kind, "lvm");
  assert.match(a.reason, /^auto: .* → lvm$/);
  const b = await selectEngine("auto", { file, probe: no });
  assert.equal(b.kind, "file");
  assert.equal(b.engine.kind, "file");
  assert.equal(b.reason, "auto: device-mapper unavailable: open /dev/mapper/control: ENODEV → file");
});

test("explicit choices; lvm without device-mapper says what is missing", async () => {
  assert.equal((await selectEngine("file", { file, probe: yes })).kind, "file");
  const l = await selectEngine("lvm", { file, probe: no });
  assert.equal(l.kind, "lvm");
  assert.match(l.reason, /metadata only/);
  assert.equal(l.engine.capabilities().snapshots.supported, false);
  await assert.rejects(selectEngine("zfs" as never, { file, probe: no }), /not one of auto, lvm, file/);
});

test("hasDeviceMapper reports a missing control node", async () => {
  const r = await hasDeviceMapper("/nonexistent/mapper/control");
  assert.equal(r.available, false);
  assert.match(r.reason, /ENOENT/);
});
