import { test } from "node:test";
import assert from "node:assert/strict";
import { assignDisks, assignFailMessage, nextClaimStep, rejectReason } from "./states.ts";
import type { LocalDisk } from "../../../api/kinds/local-disk.ts";
import type { LocalDiskClaim } from "../../../api/kinds/local-disk-claim.ts";

const GiB = 2 ** 30;
const disk = (name: string, spec: Partial<NonNullable<LocalDisk["spec"]>> = {}, claimState = "Available"): LocalDisk => ({
  metadata: { name },
  spec: { nodeName: "n1", devicePath: `/dev/${name}`, capacity: 2 * GiB, state: "Active", diskAttributes: { type: "HDD", devType: "disk" }, ...spec },
  status: { claimState: claimState as "Available" },
});
const claim = (spec: Partial<NonNullable<LocalDiskClaim["spec"]>> = {}, status?: string): LocalDiskClaim => ({
  metadata: { name: "c1", uid: "u1" },
  spec: { nodeName: "n1", owner: "local-storage", ...spec },
  status: status === undefined ? {} : { status: status as "Pending" },
});

test("reject reasons: each filter of §6 names itself", () => {
  const c = claim({ description: { capacity: 3 * GiB, diskType: "SSD" } });
  const cases: Array<[LocalDisk, RegExp | undefined]> = [
    [disk("localdisk-a", { capacity: 4 * GiB, diskAttributes: { type: "SSD", devType: "disk" } }), undefined],
    [disk("localdisk-b"), /too small/],
    [disk("localdisk-c", { capacity: 4 * GiB }), /type HDD, claim wants SSD/],
    [disk("localdisk-d", { capacity: 4 * GiB, reserved: true, diskAttributes: { type: "SSD" } }), /reserved/],
    [disk("localdisk-e", { claimRef: { name: "other", uid: "u2" } }, "Bound"), /already bound to claim other/],
    [disk("localdisk-f", { nodeName: "n2" }), /on node n2/],
    [disk("localdisk-g", { state: "Inactive" }), /state Inactive/],
    [disk("localdisk-h", {}, "Pending"), /claimState Pending/],
    [disk("localdisk-i", { partitionInfo: [{ path: "/dev/x", hasFileSystem: true }] }), /partitions or a filesystem/],
    [disk("localdisk-j", { owner: "local-disk-manager" }), /owned by local-disk-manager, claim is for local-storage/],
    [disk("sdb-old"), /old-style name/],
    [disk("localdisk-l", { capacity: 4 * GiB, diskAttributes: { type: "SSD", devType: "part" } }), /devType part/],
    [disk("localdisk-m", { claimRef: { name: "c1", uid: "u1" } }, "Bound"), undefined],
  ];
  for (const [d, want] of cases) {
    const r = rejectReason(c, d);
    if (want === undefined) assert.equal(r, undefined, d.metadata!.name);
    else assert.match(r ?? "", want, d.metadata!.name);
  }
  assert.equal(rejectReason(claim(), disk("localdisk-k", { owner: "" })), undefined, "empty owner counts as local-storage");
  assert.match(
    rejectReason(claim({ owner: "local-disk-manager" }), disk("localdisk-k")) ?? "",
    /no owner \(counts as local-storage\), claim is for local-disk-manager: set spec.owner/,
  );
  assert.equal(rejectReason(claim({ owner: "local-disk-manager" }), disk("localdisk-k", { owner: "local-disk-manager" })), undefined);
  assert.equal(rejectReason(claim({ description: { localDiskNames: ["localdisk-z"] } }), disk("localdisk-a")), "not in localDiskNames");
  assert.match(rejectReason(claim({ description: { devicePaths: ["/dev/loop9"] } }), disk("localdisk-a")) ?? "", /not in devicePaths/);
});

test("assignment takes every matching disk of the node and explains the rest", () => {
  const disks = [disk("localdisk-b", { capacity: GiB }), disk("localdisk-a"), disk("localdisk-x", { nodeName: "n2" })];
  const a = assignDisks(claim({ description: { capacity: 2 * GiB } }), disks);
  assert.deepEqual(
    a.disks.map((d) => d.metadata!.name),
    ["localdisk-a"],
  );
  assert.deepEqual(a.rejected, [{ name: "localdisk-b", reason: `too small (${GiB} < ${2 * GiB} bytes)` }]);
  const msg = assignFailMessage(
    claim({ description: { capacity: 8 * GiB, diskType: "SSD" } }),
    assignDisks(claim({ description: { capacity: 8 * GiB, diskType: "SSD" } }), disks),
  );
  assert.match(msg, /^no disk of node n1 matches claim c1 \(owner local-storage, type SSD, capacity >= 8589934592\): localdisk-a: too small/);
  assert.match(assignFailMessage(claim(), { disks: [], rejected: [] }), /the node has no disks/);
});

// status + facts → step
const table: Array<[string, LocalDiskClaim, LocalDisk[], string, string?]> = [
  ["new claim → Pending", claim(), [], "setStatus", "Pending"],
  ["pending, a disk matches → bind", claim({}, "Pending"), [disk("localdisk-a")], "bind"],
  ["pending, nothing matches → warn", claim({}, "Pending"), [disk("localdisk-a", { reserved: true })], "warn"],
  ["extending behaves as pending", claim({}, "Extending"), [disk("localdisk-a")], "bind"],
  ["pending with refs → Bound", claim({ diskRefs: [{ name: "localdisk-a" }] }, "Pending"), [], "setStatus", "Bound"],
  ["bound without refs → Pending", claim({}, "Bound"), [], "setStatus", "Pending"],
  ["bound, owner local-disk-manager → consume", claim({ owner: "local-disk-manager", diskRefs: [{ name: "localdisk-a" }] }, "Bound"), [], "consume"],
  ["bound, owner local-storage → left for the storage part", claim({ owner: "local-storage", diskRefs: [{ name: "a" }] }, "Bound"), [], "none"],
  ["consumed → ToBeDeleted", claim({}, "Consumed"), [], "setStatus", "ToBeDeleted"],
  ["ToBeDeleted → Deleted", claim({}, "ToBeDeleted"), [], "setStatus", "Deleted"],
  ["Deleted → delete the CR", claim({}, "Deleted"), [], "delete"],
  ["no owner → warn", claim({ owner: "" }, "Pending"), [disk("localdisk-a")], "warn"],
];
for (const [title, c, disks, kind, status] of table) {
  test(`LocalDiskClaim states: ${title}`, () => {
    const s = nextClaimStep(c, disks);
    assert.equal(s.kind, kind);
    if (status) assert.equal((s as { status: string }).status, status);
  });
}
