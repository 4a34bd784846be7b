import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { flattenBlockDevices, hasForeignData, parseLsblk, type BlockDevice } from "./lsblk.ts";

const fixture = (f: string) => readFileSync(new URL(`./testdata/${f}`, import.meta.url), "utf8");

test("parseLsblk: loop devices from `lsblk --json --bytes --paths -O`", () => {
  const [a, b] = parseLsblk(fixture("lsblk-loops.json"));
  assert.equal(a!.name, "/dev/loop0");
  assert.equal(a!.type, "loop");
  assert.equal(a!.sizeBytes, 536870912);
  assert.equal(a!.majMin, "7:0");
  assert.equal(a!.rotational, true); // loop devices report rota=1
  assert.equal(a!.readOnly, false);
  assert.deepEqual(a!.mountpoints, []); // [null] → []
  assert.equal(a!.serial, null);
  assert.equal(b!.readOnly, true);
  assert.equal(b!.sizeBytes, 67108864); // --sizelimit
  assert.equal(hasForeignData(a!), false);
});

test("parseLsblk: whole machine; vda is mounted on / though lsblk shows no fstype (no udev db)", () => {
  const devs = parseLsblk(fixture("lsblk-all.json"));
  const vda = devs.find((d) => d.name === "/dev/vda")!;
  assert.equal(vda.type, "disk");
  assert.equal(vda.fstype, null);
  assert.deepEqual(vda.mountpoints, ["/"]);
  assert.equal(vda.vendor, "0x1af4");
  assert.equal(hasForeignData(vda), true); // because of the mount, not the (missing) fstype
});

test("parseLsblk: a mounted xfs loop still shows fstype null here", () => {
  const [d] = parseLsblk(fixture("lsblk-mounted-xfs.json"));
  assert.equal(d!.fstype, null);
  assert.equal(d!.mountpoints.length, 1);
  assert.equal(hasForeignData(d!), true);
});

test("hasForeignData and flatten on a partitioned disk (tree shape of lsblk with udev)", () => {
  const devs = parseLsblk(
    JSON.stringify({
      blockdevices: [
        {
          name: "/dev/sda",
          type: "disk",
          size: 1000,
          pttype: "gpt",
          "maj:min": "8:0",
          mountpoints: [null],
          children: [{ name: "/dev/sda1", type: "part", size: 500, fstype: "ext4", "maj:min": "8:1", mountpoints: ["/boot"] }],
        },
      ],
    }),
  );
  const disk: BlockDevice = devs[0]!;
  assert.equal(hasForeignData(disk), true);
  assert.deepEqual(
    flattenBlockDevices(devs).map((d) => d.name),
    ["/dev/sda", "/dev/sda1"],
  );
  assert.equal(disk.children[0]!.fstype, "ext4");
});
