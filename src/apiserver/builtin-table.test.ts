import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { builtinResourceTypes } from "./builtins.ts";
import { renderTable } from "./builtin-table.ts";

const rt = (kind: string) => builtinResourceTypes.find((t) => t.kind === kind)!;
const cellsOf = (kind: string, obj: any) => {
  const t = renderTable(rt(kind), [obj]);
  return Object.fromEntries(t.columnDefinitions.map((c: any, i: number) => [c.name, t.rows[0].cells[i]]));
};

describe("computed cells of built-in tables", () => {
  it("prints Node status and roles like kubectl", () => {
    const c = cellsOf("Node", {
      metadata: { name: "n1", labels: { "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "" } },
      spec: { unschedulable: true },
      status: { conditions: [{ type: "Ready", status: "True" }], nodeInfo: { kubeletVersion: "v1.32.0" } },
    });
    assert.equal(c.Status, "Ready,SchedulingDisabled");
    assert.equal(c.Roles, "control-plane,worker");
    assert.equal(c.Version, "v1.32.0");
    assert.equal(cellsOf("Node", { metadata: { name: "n2" } }).Roles, "<none>");
    assert.equal(cellsOf("Node", { metadata: { name: "n2" }, status: { conditions: [{ type: "Ready", status: "False" }] } }).Status, "NotReady");
  });

  it("prints Pod ready/status/restarts, PV claims, Event objects and data counts", () => {
    const p = cellsOf("Pod", {
      metadata: { name: "p" },
      spec: { containers: [{}, {}] },
      status: {
        phase: "Running",
        containerStatuses: [
          { ready: true, restartCount: 2 },
          { ready: false, restartCount: 1 },
        ],
      },
    });
    assert.deepEqual([p.Ready, p.Status, p.Restarts], ["1/2", "Running", 3]);
    assert.equal(cellsOf("PersistentVolume", { metadata: { name: "pv" }, spec: { claimRef: { namespace: "ns", name: "c" } } }).Claim, "ns/c");
    const pv = cellsOf("PersistentVolume", { metadata: { name: "pv" }, spec: { accessModes: ["ReadWriteMany", "ReadWriteOnce"] } });
    assert.deepEqual([pv["Access Modes"], pv.VolumeMode], ["RWO,RWX", "Filesystem"]);
    const pvc = cellsOf("PersistentVolumeClaim", { metadata: { name: "c" }, spec: { volumeMode: "Block" }, status: { accessModes: ["ReadWriteOnce"] } });
    assert.deepEqual([pvc["Access Modes"], pvc.VolumeMode], ["RWO", "Block"]);
    assert.equal(cellsOf("Event", { metadata: { name: "e" }, involvedObject: { kind: "Pod", name: "p" } }).Object, "pod/p");
    const ev = renderTable(rt("Event"), [{ metadata: { name: "e" }, eventTime: "2026-01-01T00:00:00.000000Z" }], { now: new Date("2026-01-01T00:05:00Z") });
    assert.equal(ev.rows[0].cells[1], "5m");
    assert.equal(cellsOf("ConfigMap", { metadata: { name: "c" }, data: { a: "1", b: "2" } }).Data, 2);
  });
});
