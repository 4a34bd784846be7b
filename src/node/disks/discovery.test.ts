import { test } from "node:test";
import assert from "node:assert/strict";
import { decideManaged, describeDisk, hasForeignData, inactiveDiskSpec, mergeDiskSpec, parseDiskClass, type DiskFacts } from "./discovery.ts";
import { parseDeviceList } from "./selector.ts";
import { localDiskName } from "./identity.ts";
import { unreadFacts } from "./probe.ts";

const GiB = 2 ** 30;

// Facts as probe.ts gathers them on this machine for a loop device (no udevd) and on a udev host for a SATA SSD.
const loop = (over: Partial<DiskFacts> = {}): DiskFacts => ({
  kernelName: "loop3",
  devPath: "/dev/loop3",
  sysPath: "/sys/devices/virtual/block/loop3",
  isVirtual: true,
  sizeBytes: GiB,
  rotational: true,
  readOnly: false,
  majMin: "7:3",
  model: null,
  vendor: null,
  serial: null,
  wwn: null,
  loopBackingFile: "/var/lib/dev/n1/d1.img",
  holders: [],
  ...unreadFacts(),
  lsblkType: "loop",
  ...over,
});

const sata = (over: Partial<DiskFacts> = {}): DiskFacts => ({
  ...loop(),
  kernelName: "sdb",
  devPath: "/dev/sdb",
  sysPath: "/sys/devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sdb",
  isVirtual: false,
  rotational: false,
  majMin: "8:16",
  transport: "sata",
  lsblkType: "disk",
  loopBackingFile: null,
  udev: {
    devlinks: ["/dev/disk/by-path/pci-0000:00:1f.2-ata-2", "/dev/disk/by-id/ata-Samsung_SSD_870_S1234"],
    byPath: ["/dev/disk/by-path/pci-0000:00:1f.2-ata-2"],
    serial: "S1234",
    wwn: "0x5002538e4",
    model: "Samsung_SSD_870",
    vendor: "ATA",
    bus: "ata",
    type: "disk",
    devtype: "disk",
  },
  ...over,
});

const opts = (devices?: string) => ({ selector: parseDeviceList(devices), stateDir: "/etc/hwameistor" });

test("managed devices: loop devices only when --devices selects them; other virtual devices never", () => {
  assert.deepEqual(decideManaged(loop(), opts("/dev/loop3")), { manage: true });
  assert.deepEqual(decideManaged(loop(), opts("file:/var/lib/dev/n1/*.img")), { manage: true });
  assert.equal(decideManaged(loop(), opts()).manage, false, "all-disks mode skips loops (virtual, as the original)");
  assert.equal(decideManaged(loop(), opts("/dev/loop4")).manage, false);
  assert.equal(decideManaged(loop({ kernelName: "zram0", devPath: "/dev/zram0", loopBackingFile: null }), opts()).manage, false);
  assert.equal(decideManaged(loop({ kernelName: "dm-0", devPath: "/dev/dm-0", loopBackingFile: null }), opts()).manage, false);
  assert.equal(decideManaged(loop({ sizeBytes: 0 }), opts("/dev/loop3")).manage, false, "unattached loop");
  const own = decideManaged(loop({ loopBackingFile: "/etc/hwameistor/volumes/pvc-1.img" }), opts("/dev/loop*"));
  assert.deepEqual(own, { manage: false, reason: "loop device backing a volume of this agent (/etc/hwameistor/volumes/pvc-1.img)" });
  assert.deepEqual(decideManaged(sata(), opts()), { manage: true });
  assert.equal(decideManaged(sata(), opts("/dev/sdc")).manage, false);
  assert.equal(decideManaged(sata({ lsblkType: "rom" }), opts()).manage, false);
});

test("sysfs facts alone refuse every device the full facts refuse (the scanner spawns lsblk/blkid only for the rest)", () => {
  // What probe.ts reads before spawning anything: sysfs only, lsblk/blkid/udev facts unread.
  const sysOnly = (f: DiskFacts): DiskFacts => ({ ...f, ...unreadFacts() });
  const devices = [
    loop(),
    loop({ loopBackingFile: "/etc/hwameistor/volumes/pvc-1.img" }),
    loop({ kernelName: "loop9", devPath: "/dev/loop9", loopBackingFile: "/other/test/disk.img" }),
    loop({ sizeBytes: 0, loopBackingFile: null }),
    sata(),
    sata({ kernelName: "sr0", devPath: "/dev/sr0" }),
    loop({ kernelName: "zram0", devPath: "/dev/zram0", loopBackingFile: null }),
  ];
  const extras: Partial<DiskFacts>[] = [
    {},
    { lsblkType: "rom" },
    { lsblkType: "disk", fsType: "xfs", partitions: [{ path: "/dev/x1", fsType: "ext4", mountpoints: ["/"] }] },
    { udev: { ...sata().udev!, devtype: "partition" } },
    { udev: { ...sata().udev!, type: "cd" } },
    { busy: true, mountpoints: ["/mnt"] },
  ];
  const selectors = [undefined, "/dev/loop3", "/dev/loop*", "file:/var/lib/dev/n1/*.img", "/dev/sdb", "/dev/sd*,/dev/loop9"];
  let refusedBySysfs = 0;
  for (const d of devices)
    for (const sel of selectors) {
      if (decideManaged(sysOnly(d), opts(sel)).manage) continue;
      refusedBySysfs++;
      for (const x of extras) assert.equal(decideManaged({ ...d, ...x }, opts(sel)).manage, false, `${d.devPath} with ${JSON.stringify(x)}, --devices ${sel}`);
    }
  assert.ok(refusedBySysfs >= 30, `most combinations are refused by sysfs alone (${refusedBySysfs})`);
  // The cases a shared machine is full of: another test's loop device, our own volumes' loops, unattached loops.
  assert.equal(decideManaged(sysOnly(devices[2]!), opts("file:/var/lib/dev/n1/*.img")).manage, false);
  assert.equal(decideManaged(sysOnly(devices[1]!), opts("/dev/loop*")).manage, false);
  assert.equal(decideManaged(sysOnly(devices[3]!), opts("/dev/loop*")).manage, false);
});

test("a loop disk: named by node + backing file, HDD by rotational, devType disk, major/minor strings", () => {
  const d = describeDisk(loop(), { nodeName: "n1" })!;
  assert.equal(d.name, localDiskName({ hostname: "n1", byPathLinks: [], loopBackingFile: "/var/lib/dev/n1/d1.img" }));
  assert.deepEqual(d.spec, {
    nodeName: "n1",
    devicePath: "/dev/loop3",
    devLinks: [],
    capacity: GiB,
    partitioned: false,
    partitionInfo: [],
    diskAttributes: { type: "HDD", devType: "disk" },
    state: "Active",
    major: "7",
    minor: "3",
  });
  // The same file on another loop number is the same LocalDisk.
  assert.equal(describeDisk(loop({ kernelName: "loop6", devPath: "/dev/loop6", majMin: "7:6" }), { nodeName: "n1" })!.name, d.name);
  assert.equal(describeDisk(loop(), { nodeName: "n1", diskClass: "SSD" })!.spec.diskAttributes!.type, "SSD");
});

test("a SATA SSD with udev: serial identity, attributes, devLinks sorted", () => {
  const d = describeDisk(sata(), { nodeName: "n1" })!;
  assert.equal(d.name, localDiskName({ hostname: "x", vendor: "ATA", serial: "S1234", wwn: "0x5002538e4", byPathLinks: [] }));
  assert.deepEqual(d.spec.diskAttributes, {
    type: "SSD",
    devType: "disk",
    vendor: "ATA",
    modelName: "Samsung_SSD_870",
    serialNumber: "S1234",
    protocol: "ata",
  });
  assert.deepEqual(d.spec.devLinks, ["/dev/disk/by-id/ata-Samsung_SSD_870_S1234", "/dev/disk/by-path/pci-0000:00:1f.2-ata-2"]);
  const nvme = describeDisk(
    sata({ kernelName: "nvme0n1", devPath: "/dev/nvme0n1", sysPath: "/sys/devices/pci0000:00/nvme/nvme0/nvme0n1", transport: "nvme" }),
    { nodeName: "n1" },
  )!;
  assert.equal(nvme.spec.diskAttributes!.type, "NVMe");
  assert.equal(describeDisk(sata({ rotational: true }), { nodeName: "n1" })!.spec.diskAttributes!.type, "HDD");
  assert.equal(describeDisk(loop({ loopBackingFile: null }), { nodeName: "n1" }), undefined, "no identity → not managed");
});

test("partitions and filesystems: a whole-disk xfs, a GPT with partitions, a busy device", () => {
  const xfs = describeDisk(loop({ fsType: "xfs" }), { nodeName: "n1" })!;
  assert.equal(xfs.spec.partitioned, true);
  assert.deepEqual(xfs.spec.partitionInfo, [{ path: "/dev/loop3", hasFileSystem: true, filesystem: { fsType: "xfs" } }]);
  const gpt = loop({
    ptType: "gpt",
    partitions: [
      { path: "/dev/loop3p1", fsType: "ext4", mountpoints: ["/boot"] },
      { path: "/dev/loop3p2", fsType: null, mountpoints: [] },
    ],
  });
  assert.equal(hasForeignData(gpt), true);
  assert.deepEqual(describeDisk(gpt, { nodeName: "n1" })!.spec.partitionInfo, [
    { path: "/dev/loop3p1", hasFileSystem: true, filesystem: { fsType: "ext4", mountPoint: "/boot" } },
    { path: "/dev/loop3p2", hasFileSystem: false },
    { path: "/dev/loop3", hasFileSystem: false },
  ]);
  assert.equal(describeDisk(loop({ busy: true }), { nodeName: "n1" })!.spec.partitioned, true);
  assert.equal(hasForeignData(loop()), false);
});

test("create: a disk holding data is reserved; an empty one is not", () => {
  const empty = describeDisk(loop(), { nodeName: "n1" })!.spec;
  assert.equal(mergeDiskSpec(undefined, empty).reserved, false);
  const used = describeDisk(loop({ fsType: "xfs" }), { nodeName: "n1" })!.spec;
  assert.equal(mergeDiskSpec(undefined, used).reserved, true);
});

test("update keeps claimRef/reserved/owner, records preDevicePath and preNodeName when they change", () => {
  const first = mergeDiskSpec(undefined, describeDisk(loop(), { nodeName: "n1" })!.spec);
  const claimed = { ...first, owner: "local-disk-manager", claimRef: { name: "c1" }, reserved: false, smartInfo: { overallHealth: "Passed" } };
  const moved = mergeDiskSpec(
    claimed,
    describeDisk(loop({ kernelName: "loop6", devPath: "/dev/loop6", majMin: "7:6", fsType: "xfs" }), { nodeName: "n2" })!.spec,
  );
  assert.equal(moved.devicePath, "/dev/loop6");
  assert.equal(moved.preDevicePath, "/dev/loop3");
  assert.equal(moved.nodeName, "n2");
  assert.equal(moved.preNodeName, "n1");
  assert.equal(moved.minor, "6");
  assert.equal(moved.partitioned, true);
  assert.equal(moved.reserved, false, "reserved is set only when first seen");
  assert.equal(moved.owner, "local-disk-manager");
  assert.deepEqual(moved.claimRef, { name: "c1" });
  assert.deepEqual(moved.smartInfo, { overallHealth: "Passed" });
});

test("a user-edited type is kept for disks with a serial, unless --disk-class forces it", () => {
  const d = describeDisk(sata(), { nodeName: "n1" })!.spec;
  const edited = { ...mergeDiskSpec(undefined, d), diskAttributes: { ...d.diskAttributes, type: "HDD" } };
  assert.equal(mergeDiskSpec(edited, d).diskAttributes!.type, "HDD");
  assert.equal(mergeDiskSpec(edited, { ...d, diskAttributes: { ...d.diskAttributes, type: "NVMe" } }, { classOverride: true }).diskAttributes!.type, "NVMe");
  const l = describeDisk(loop(), { nodeName: "n1" })!.spec;
  const editedLoop = { ...mergeDiskSpec(undefined, l), diskAttributes: { ...l.diskAttributes, type: "SSD" } };
  assert.equal(mergeDiskSpec(editedLoop, l).diskAttributes!.type, "HDD", "no serial: rediscovered (as the original)");
});

test("gone → Inactive, path moved to preDevicePath, major/minor cleared; back → Active on the new path", () => {
  const first = mergeDiskSpec(undefined, describeDisk(loop(), { nodeName: "n1" })!.spec);
  const gone = inactiveDiskSpec(first);
  assert.equal(gone.state, "Inactive");
  assert.equal(gone.devicePath, undefined);
  assert.equal(gone.preDevicePath, "/dev/loop3");
  assert.equal(gone.major, undefined);
  assert.equal(gone.nodeName, "n1");
  const back = mergeDiskSpec(gone, describeDisk(loop({ kernelName: "loop5", devPath: "/dev/loop5", majMin: "7:5" }), { nodeName: "n1" })!.spec);
  assert.equal(back.state, "Active");
  assert.equal(back.devicePath, "/dev/loop5");
  assert.equal(back.preDevicePath, "/dev/loop3");
  assert.equal(back.major, "7");
});

test("--disk-class values", () => {
  assert.equal(parseDiskClass("NVMe"), "NVMe");
  assert.equal(parseDiskClass(undefined), undefined);
  assert.throws(() => parseDiskClass("ssd"), /HDD, SSD or NVMe/);
});
