import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { HwError } from "../../api/errors.ts";
import { CommandError } from "../runner.ts";
import {
  isLuksArgv,
  isNoDeviceMapper,
  isWrongKey,
  luksCloseArgv,
  luksFormatArgv,
  luksOpenArgv,
  mapperName,
  mapperPath,
  parseLuksDumpJson,
  parseStatus,
  statusArgv,
  testKeyArgv,
} from "./cryptsetup.ts";

const fixture = (f: string) => readFileSync(new URL(`./testdata/${f}`, import.meta.url), "utf8");

test("the original's command lines, key on stdin (never in argv)", () => {
  assert.deepEqual(luksFormatArgv("/dev/LocalStorage_PoolHDD/pvc-1"), [
    "cryptsetup",
    "-q",
    "-s",
    "512",
    "luksFormat",
    "--key-file=-",
    "/dev/LocalStorage_PoolHDD/pvc-1",
  ]);
  assert.deepEqual(luksFormatArgv("/dev/loop3", { pbkdf: { type: "pbkdf2", iterations: 10 } }), [
    "cryptsetup",
    "-q",
    "-s",
    "512",
    "--pbkdf",
    "pbkdf2",
    "--pbkdf-force-iterations",
    "1000",
    "luksFormat",
    "--key-file=-",
    "/dev/loop3",
  ]);
  assert.deepEqual(luksOpenArgv("/dev/VG/pvc-1", mapperName("pvc-1")), [
    "cryptsetup",
    "--allow-discards",
    "luksOpen",
    "--key-file=-",
    "/dev/VG/pvc-1",
    "pvc-1-encrypt",
  ]);
  assert.deepEqual(luksCloseArgv("pvc-1-encrypt"), ["cryptsetup", "luksClose", "pvc-1-encrypt"]);
  assert.deepEqual(isLuksArgv("/dev/VG/pvc-1"), ["cryptsetup", "isLuks", "/dev/VG/pvc-1"]);
  assert.deepEqual(testKeyArgv("/dev/VG/pvc-1"), ["cryptsetup", "open", "--test-passphrase", "--key-file=-", "/dev/VG/pvc-1"]);
  assert.deepEqual(statusArgv("pvc-1-encrypt"), ["cryptsetup", "status", "pvc-1-encrypt"]);
  assert.equal(mapperPath("pvc-1"), "/dev/mapper/pvc-1-encrypt");
  assert.throws(() => luksOpenArgv("/dev/VG/pvc-1", "x y"), HwError);
  assert.throws(() => luksFormatArgv("relative"), HwError);
  assert.throws(() => mapperName("../etc"), HwError);
});

test("recorded: luksDump JSON of a LUKS2 header made here", () => {
  const m = parseLuksDumpJson(fixture("luksDump-loop.json"));
  assert.deepEqual(m.keyslots, [{ id: "0", type: "luks2", keyBits: 512, kdf: "pbkdf2" }]);
  assert.deepEqual(m.segment, { offsetBytes: 16777216, cipher: "aes-xts-plain64", sectorSize: 512 });
});

test("SYNTHETIC: status of an open mapping, and of a closed one", () => {
  const s = parseStatus(fixture("status-active-SYNTHETIC.txt"));
  assert.equal(s.active, true);
  assert.equal(s.inUse, true);
  assert.equal(s.type, "LUKS2");
  assert.equal(s.cipher, "aes-xts-plain64");
  assert.equal(s.keyBits, 512);
  assert.equal(s.device, "/dev/mapper/LocalStorage_PoolHDD-pvc--rec");
  assert.equal(s.offsetSectors, 32768);
  assert.equal(s.sizeSectors, 98304);
  assert.deepEqual(s.flags, ["discards"]);
  assert.equal(parseStatus(fixture("status-inactive-SYNTHETIC.txt")).active, false);
});

test("recorded: refusals without device-mapper and a wrong key are classified", () => {
  const blocks = fixture("no-dm-stderr.txt").split(/^\$ /m).filter(Boolean);
  assert.equal(blocks.length, 4);
  const errs = blocks.map((b) => {
    const lines = b.trim().split("\n");
    const exit = Number(/^exit (\d+)$/.exec(lines.at(-1)!)![1]);
    return new CommandError({ argv: lines[0]!.split(" "), exitCode: exit, stderr: lines.slice(1, -1).join("\n") });
  });
  for (const e of errs.slice(0, 3)) assert.ok(isNoDeviceMapper(e), e.argv.join(" "));
  assert.ok(isWrongKey(errs[3]));
  assert.ok(!isNoDeviceMapper(errs[3]));
});
