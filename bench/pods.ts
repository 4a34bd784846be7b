// Pods on HwameiStor volumes in the 3-node dev cluster: PVC-created → pod-Running latency for 20 PVC + pod
// pairs created at once, through every Kubernetes role the project plays (embedded scheduler with
// HwameiStor's filter → selected-node → external-provisioner → CreateVolume → PV binding → attach/detach +
// external-attacher → the node agent's kubelet role: NodePublish (mkfs.xfs + mount) → container process).
//
// Method: `hwameistor cluster up` (3 nodes × 2 loop disks, temp --state-dir); a WaitForFirstConsumer class
// with reclaim Delete; for each pair i the PVC and then the pod (`sleep 3600`, schedulerName
// hwameistor-scheduler) are created back to back through the API, all 20 pairs in flight; the start of pair i
// is when its PVC create returned; its end is the first poll (every 100 ms) that sees the pod Running. Then
// everything is deleted and the time until no PV, LocalVolume or pod is left is reported (informational).
// `cluster down --purge` in `finally`.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pod, Pvc } from "../src/api/core.ts";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeConfig } from "../src/kube/config.ts";
import { POD, PV, PVC, STORAGE_CLASS } from "../src/kube/resources.ts";
import type { KubeObject } from "../src/kube/types.ts";
import { localVolumeKind } from "../src/api/kinds/local-volume.ts";
import { hwameistor } from "./lib/proc.ts";
import { machineFacts, metric, percentile, type CaseResult } from "./lib/report.ts";
import { round, sleep } from "./lib/stats.ts";

type K = KubeObject;
const PAIRS = 20;
const NS = "default";

export async function benchPods(o: { quick: boolean }): Promise<CaseResult> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "hw-bench-pods-"));
  const stateDir = join(dir, "state");
  const notes: string[] = [];
  try {
    await hwameistor(
      ["cluster", "up", "--state-dir", stateDir, "--nodes", "3", "--disks-per-node", "2", "--disk-size", "4Gi", "--timeout", "300", "-o", "json"],
      420_000,
    );
    const client = new KubeClient(loadKubeConfig({ kubeconfigPath: join(stateDir, "kubeconfig") }).kubeConfig);
    const pvcs = client.forKind<Pvc & K>(PVC);
    const pods = client.forKind<Pod & K>(POD);
    await client.forKind(STORAGE_CLASS).create({
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "bench-hdd" },
      provisioner: "lvm.hwameistor.io",
      volumeBindingMode: "WaitForFirstConsumer",
      reclaimPolicy: "Delete",
      parameters: { poolClass: "HDD", replicaNumber: "1", "csi.storage.k8s.io/fstype": "xfs" },
    } as K);
    const t0 = new Map<string, number>();
    await Promise.all(
      Array.from({ length: PAIRS }, async (_, i) => {
        const name = `bench-${i}`;
        await pvcs.create(
          {
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            metadata: { name, namespace: NS },
            spec: { accessModes: ["ReadWriteOnce"], storageClassName: "bench-hdd", resources: { requests: { storage: "320Mi" } } },
          } as Pvc & K,
          NS,
        );
        t0.set(name, Date.now());
        await pods.create(
          {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name, namespace: NS },
            spec: {
              schedulerName: "hwameistor-scheduler",
              terminationGracePeriodSeconds: 1,
              containers: [{ name: "c", image: "none", command: ["sleep", "3600"], volumeMounts: [{ name: "d", mountPath: "/data" }] }],
              volumes: [{ name: "d", persistentVolumeClaim: { claimName: name } }],
            },
          } as Pod & K,
          NS,
        );
      }),
    );
    const done = new Map<string, number>();
    const deadline = Date.now() + (o.quick ? 300_000 : 600_000);
    while (done.size < PAIRS && Date.now() < deadline) {
      const now = Date.now();
      for (const p of (await pods.list({ namespace: NS })).items) {
        const n = p.metadata?.name ?? "";
        if (!done.has(n) && t0.has(n) && p.status?.phase === "Running") done.set(n, now - t0.get(n)!);
      }
      await sleep(100);
    }
    if (done.size < PAIRS) notes.push(`only ${done.size} of ${PAIRS} pods reached Running before the deadline`);
    const ms = [...done.values()].sort((a, b) => a - b);
    const nodes = new Map<string, number>();
    for (const p of (await pods.list({ namespace: NS })).items) if (p.spec?.nodeName) nodes.set(p.spec.nodeName, (nodes.get(p.spec.nodeName) ?? 0) + 1);
    notes.push(
      `pods per node: ${[...nodes]
        .sort()
        .map(([n, c]) => `${n} ${c}`)
        .join(", ")}`,
    );

    const d0 = Date.now();
    await Promise.all(Array.from({ length: PAIRS }, (_, i) => pods.delete(`bench-${i}`, NS).catch(() => false)));
    await Promise.all(Array.from({ length: PAIRS }, (_, i) => pvcs.delete(`bench-${i}`, NS).catch(() => false)));
    const lvs = client.forKind(localVolumeKind);
    const pvs = client.forKind(PV);
    while (Date.now() < d0 + 300_000) {
      const left = (await pods.list({ namespace: NS })).items.length + (await pvs.list()).items.length + (await lvs.list()).items.length;
      if (left === 0) break;
      await sleep(250);
    }
    const teardownMs = Date.now() - d0;
    return {
      case: "pods",
      title: "PVC-created → pod-Running for 20 PVC+pod pairs on the 3-node dev cluster",
      mode: o.quick ? "quick" : "full",
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      machine: machineFacts(),
      params: { pairs: PAIRS, nodes: 3, volume: "320Mi xfs", concurrency: PAIRS },
      metrics: [
        metric("PVC created → pod Running p50", round(percentile(ms, 50)), "ms"),
        metric("PVC created → pod Running p99", round(percentile(ms, 99)), "ms"),
        metric("PVC created → pod Running max", round(ms.at(-1) ?? NaN), "ms"),
        metric("all deleted → no pod, PV or LocalVolume left", teardownMs, "ms", undefined, "informational"),
      ],
      notes,
    };
  } finally {
    await hwameistor(["cluster", "down", "--purge", "--state-dir", stateDir], 180_000).catch((e: unknown) => console.log(`cleanup: ${(e as Error).message}`));
    rmSync(dir, { recursive: true, force: true });
  }
}
