import { test } from "node:test";
import assert from "node:assert/strict";
import type { LocalVolumeGroup as Lvg } from "../kinds/local-volume-group.ts";
import type { LocalVolume as Lv } from "../kinds/local-volume.ts";
import type { PodVolumesView as Pod } from "./groups.ts";
import { findGroup, groupNodes, podsUsingPvc, pvcsOfPods, withVolume, withoutVolume } from "./groups.ts";

const pod = (name: string, ns: string, pvcs: string[]): Pod => ({
  metadata: { name, namespace: ns },
  spec: { volumes: pvcs.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })) },
});
const lvg = (name: string, ns: string, vols: Array<[string, string]>, nodes: string[] = []): Lvg => ({
  metadata: { name },
  spec: { namespace: ns, volumes: vols.map(([pvc, localvolume]) => ({ pvc, localvolume })), accessibility: { nodes } },
});

test("pods and their PVCs", () => {
  const pods = [pod("db", "ns1", ["data", "log"]), pod("other", "ns2", ["data"]), pod("web", "ns1", ["cache"])];
  const users = podsUsingPvc(pods, "ns1", "data");
  assert.deepEqual(
    users.map((p) => p.metadata?.name),
    ["db"],
  );
  assert.deepEqual(pvcsOfPods(users, "data"), ["data", "log"]);
  assert.deepEqual(pvcsOfPods([], "solo"), ["solo"]);
});

test("findGroup: by volume, else by any PVC of the pod in the same namespace (table)", () => {
  const groups = [lvg("g1", "ns1", [["data", "pvc-a"]]), lvg("g2", "ns2", [["log", "pvc-x"]]), lvg("g3", "ns1", [["cache", "pvc-c"]])];
  const rows: Array<[string, string, string[], string, string | undefined]> = [
    ["second PVC of the pod joins the first one's group", "ns1", ["data", "log"], "pvc-b", "g1"],
    ["same PVC names in another namespace do not match", "ns2", ["data"], "pvc-z", undefined],
    ["a volume already listed finds its group", "nsX", [], "pvc-c", "g3"],
    ["a lone PVC without a group", "ns1", ["new"], "pvc-n", undefined],
  ];
  for (const [what, ns, pvcs, vol, want] of rows) assert.equal(findGroup(groups, ns, pvcs, vol)?.metadata?.name, want, what);
});

test("withVolume appends every PVC (the HEAD regression fixed), idempotently; withoutVolume removes", () => {
  const g = lvg("g1", "ns1", [["data", "pvc-a"]]).spec!;
  const s2 = withVolume(g, "log", "pvc-b", ["db"])!;
  assert.deepEqual(s2.volumes, [
    { pvc: "data", localvolume: "pvc-a" },
    { pvc: "log", localvolume: "pvc-b" },
  ]);
  assert.deepEqual(s2.pods, ["db"]);
  assert.equal(withVolume(s2, "log", "pvc-b", ["db"]), undefined);
  assert.deepEqual(withoutVolume(s2, "pvc-a")!.volumes, [{ pvc: "log", localvolume: "pvc-b" }]);
  assert.equal(withoutVolume(s2, "pvc-zz"), undefined);
});

test("groupNodes: sorted replica hosts when all volumes agree", () => {
  const v = (name: string, hosts: string[]): Lv => ({
    metadata: { name },
    spec: {
      config: {
        version: 1,
        volumeName: name,
        requiredCapacityBytes: 1,
        convertible: false,
        resourceID: -1,
        readyToInitialize: false,
        initialized: false,
        replicas: hosts.map((h, i) => ({ id: i + 1, hostname: h, ip: "", primary: i === 0 })),
      },
    },
  });
  assert.deepEqual(groupNodes([v("a", ["n2", "n1"]), v("b", ["n1", "n2"]), { metadata: { name: "c" }, spec: {} }]), { nodes: ["n1", "n2"] });
  assert.deepEqual(groupNodes([{ metadata: { name: "c" }, spec: {} }]), {});
  assert.match(groupNodes([v("a", ["n1"]), v("b", ["n2"])]).conflict!, /a on \[n1\], b on \[n2\]/);
});
