// The failover assistant against the REAL embedded API server: a node labelled hwameistor.io/failover=start
// has its pod's VolumeAttachment deleted and the pod deleted (grace 0), a FailoverNoReplica warning for a
// volume with no replica elsewhere, and its label set to `completed`. The evictor's pure rules alongside.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hwameistorClients, type HwameistorClients } from "../../kube/hwameistor.ts";
import { EVENT, PV, VOLUME_ATTACHMENT } from "../../kube/resources.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";
import { TestServer, useServerWithCrds, waitFor } from "../../../test/helpers/api-server.ts";
import { draining, podWantsEviction } from "../evictor/reconciler.ts";
import { failoverController } from "./reconciler.ts";

let srv: TestServer | undefined;
let c!: HwameistorClients;
const stops = useServerWithCrds((s) => {
  srv = s;
  c = hwameistorClients(s.client);
});

test("evictor rules: a cordoned node (unless opted out), an evicted or labelled pod", () => {
  assert.equal(draining({ metadata: { name: "n" }, spec: { unschedulable: true } } as never), true);
  assert.equal(draining({ metadata: { name: "n" }, spec: { taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] } } as never), true);
  assert.equal(draining({ metadata: { name: "n", labels: { "hwameistor.io/eviction": "disable" } }, spec: { unschedulable: true } } as never), false);
  assert.equal(draining({ metadata: { name: "n" }, spec: {} } as never), false);
  assert.equal(podWantsEviction({ status: { phase: "Failed", reason: "Evicted" } } as never), true);
  assert.equal(podWantsEviction({ metadata: { labels: { "hwameistor.io/eviction": "start" } } } as never), true);
  assert.equal(podWantsEviction({ status: { phase: "Running" } } as never), false);
});

test("failover=start on a node: attachment and pod deleted, warning for a volume with no other replica, label completed", async () => {
  const client = srv!.client;
  await c.node.create({ metadata: { name: "dead", labels: { "hwameistor.io/failover": "start" } } } as never);
  await c.pvc.create(
    {
      metadata: { name: "data", namespace: "default" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, volumeName: "pvc-1" },
    } as never,
    "default",
  );
  await client.forKind(PV).create({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "pvc-1" },
    spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], csi: { driver: "lvm.hwameistor.io", volumeHandle: "pvc-1" } },
  } as KubeObject);
  await client.forKind(VOLUME_ATTACHMENT).create({
    apiVersion: "storage.k8s.io/v1",
    kind: "VolumeAttachment",
    metadata: { name: "csi-x" },
    spec: { attacher: "lvm.hwameistor.io", nodeName: "dead", source: { persistentVolumeName: "pvc-1" } },
  } as KubeObject);
  await c.lvr.create({
    metadata: { name: "pvc-1-aaaaaa" },
    spec: { volumeName: "pvc-1", poolName: "LocalStorage_PoolHDD", nodeName: "dead", requiredCapacityBytes: 4194304 },
  } as never);
  await c.pod.create(
    {
      metadata: { name: "app", namespace: "default" },
      spec: { nodeName: "dead", containers: [{ name: "c", image: "busybox" }], volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] },
    } as never,
    "default",
  );
  const ctl = failoverController({ client, log: silentLogger });
  await ctl.start();
  stops.push(() => ctl.stop());
  await waitFor("node label completed", async () => (await c.node.get("dead"))?.metadata?.labels?.["hwameistor.io/failover"] === "completed", 10_000);
  assert.equal(await c.pod.get("app", "default"), undefined, "pod deleted");
  assert.equal(await client.forKind(VOLUME_ATTACHMENT).get("csi-x"), undefined, "attachment deleted");
  const events = (await client.forKind<KubeObject & { reason?: string; message?: string }>(EVENT).list({})).items;
  const warn = events.find((e) => e.reason === "FailoverNoReplica");
  assert.match(warn?.message ?? "", /volume pvc-1 of claim data has no Ready replica outside node dead/);
  assert.ok(events.some((e) => e.reason === "FailoverCompleted"));
});
