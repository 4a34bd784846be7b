import assert from "node:assert/strict";
import { test } from "node:test";
import { editVolume } from "./reconciler.ts";
import { decideMigrate, type MigrateFacts, type VolumeFact } from "./states.ts";
import type { Lv } from "../../kube/hwameistor.ts";

const vol = (o: Partial<VolumeFact> = {}): VolumeFact => ({
  name: "v1",
  exists: true,
  replicaNumber: 1,
  configNodes: ["a"],
  state: "Ready",
  replicas: [{ node: "a", state: "Ready" }],
  ...o,
});
const facts = (o: Partial<MigrateFacts> = {}): MigrateFacts => ({
  name: "migrate-v1",
  state: "",
  abort: false,
  sourceNode: "a",
  suggested: [],
  volumes: [vol({ migrateState: "migrateStarted" })],
  candidates: ["b", "c"],
  rejections: "",
  activeOthers: 0,
  maxMigrateCount: 1,
  ...o,
});
/** A volume with one replica, on node a. */
const oneReplica = {
  metadata: { name: "v1" },
  spec: {
    replicaNumber: 1,
    accessibility: { nodes: ["a"] },
    config: {
      version: 3,
      volumeName: "v1",
      requiredCapacityBytes: 1,
      convertible: false,
      resourceID: -1,
      readyToInitialize: false,
      initialized: false,
      replicas: [{ id: 1, hostname: "a", ip: "", primary: true }],
    },
  },
} as unknown as Lv;

const types = (d: { actions: { type: string }[] }) => d.actions.map((a) => a.type).join(",");

test("submit: failures, waits, target choice, annotation, in use", () => {
  assert.equal(decideMigrate(facts({ volumes: [vol({ exists: false })] })).state, "Failed");
  assert.match(decideMigrate(facts({ volumes: [vol({ configNodes: ["b"] })] })).message, /no replica on node a/);
  assert.match(decideMigrate(facts({ duplicateOf: "evictor-v1" })).message, /already being migrated by LocalVolumeMigrate evictor-v1/);
  assert.equal(decideMigrate(facts({ volumes: [vol({ rawblock: true })] })).state, "Failed");
  const nr = decideMigrate(facts({ volumes: [vol({ state: "NotReady" })] }));
  assert.equal(nr.state, "");
  assert.match(nr.message, /waiting until it and every replica are Ready/);
  assert.match(decideMigrate(facts({ volumes: [vol({ busy: "being expanded" })] })).message, /being expanded/);
  assert.match(decideMigrate(facts({ activeOthers: 1 })).message, /maxMigrateCount 1/);
  const none = decideMigrate(facts({ candidates: [], rejections: "b: LocalStorageNode is Offline" }));
  assert.equal(none.state, "");
  assert.equal(none.event?.reason, "MigrateNoTarget");
  assert.match(none.message, /b: LocalStorageNode is Offline/);
  assert.match(decideMigrate(facts({ suggested: ["z"] })).message, /none of the suggested nodes \(z\)/);
  assert.equal(types(decideMigrate(facts({ volumes: [vol()] }))), "annotate");
  // a volume in use on the source is no reason to wait: the copy starts online (or waits in SyncReplica, offline)
  assert.equal(decideMigrate(facts({ volumes: [vol({ migrateState: "migrateStarted", publishedNode: "a" })] })).state, "Submitted");
  const ok = decideMigrate(facts({ suggested: ["c"] }));
  assert.equal(ok.state, "Submitted");
  assert.deepEqual(ok.status, { targetNode: "c", volumes: ["v1"], originalReplicaNumber: 1 });
  assert.equal(decideMigrate(facts()).status?.targetNode, "b", "best candidate without suggestions");
});

test("phases: add replica, copy, verify, prune, complete", () => {
  const at = (state: string, v: Partial<VolumeFact>, extra: Partial<MigrateFacts> = {}) =>
    decideMigrate(facts({ state, targetNode: "b", originalReplicaNumber: 1, volumes: [vol({ migrateState: "migrateStarted", ...v })], ...extra }));
  assert.equal(at("Submitted", {}).state, "AddReplica");
  const add = at("AddReplica", {});
  assert.deepEqual(add.actions, [{ type: "addTargetReplica", volume: "v1", target: "b", replicaNumber: 2 }]);
  assert.equal(
    at("AddReplica", {
      configNodes: ["a", "b"],
      replicas: [
        { node: "a", state: "Ready" },
        { node: "b", state: "Creating" },
      ],
    }).state,
    "AddReplica",
  );
  const both = {
    configNodes: ["a", "b"],
    replicas: [
      { node: "a", state: "Ready" },
      { node: "b", state: "Ready" },
    ],
  };
  assert.equal(at("AddReplica", both).state, "SyncReplica");
  assert.equal(types(at("SyncReplica", both)), "ensureSync");
  assert.equal(types(at("SyncReplica", { ...both, publishedNode: "a" })), "ensureSync", "the sync starts while the pod runs");
  const offline = at("SyncReplica", { ...both, publishedNode: "a", sync: { attempt: 1, mode: "offline" } });
  assert.equal(types(offline), "");
  assert.match(offline.message, /still in use on node a: this engine has no online pre-copy/);
  assert.equal(types(at("SyncReplica", { ...both, sync: { attempt: 1, mode: "offline" } })), "finalRound", "unpublished: the copy may run");
  const copying = at("SyncReplica", { ...both, sync: { attempt: 1, mode: "offline", final: true, progressBytes: 50, totalBytes: 100 } });
  assert.equal(types(copying), "");
  assert.match(copying.message, /final round, 50% of 100 bytes/);
  const bad = at("SyncReplica", { ...both, sync: { attempt: 1, sourceChecksum: "x", sourceAttempt: 1, targetChecksum: "y", targetAttempt: 1 } });
  assert.equal(types(bad), "restartSync");
  assert.equal(bad.event?.reason, "MigrateChecksumMismatch");
  const stale = at("SyncReplica", { ...both, sync: { attempt: 2, sourceChecksum: "x", sourceAttempt: 1, targetChecksum: "x", targetAttempt: 1 } });
  assert.equal(stale.state, "SyncReplica", "checksums of an older attempt do not count");
  assert.equal(
    at("SyncReplica", { ...both, sync: { attempt: 1, sourceChecksum: "x", sourceAttempt: 1, targetChecksum: "x", targetAttempt: 1 } }).state,
    "PruneReplica",
  );
  assert.deepEqual(at("PruneReplica", both).actions, [{ type: "pruneSource", volume: "v1", source: "a", target: "b", replicaNumber: 1 }]);
  const verifiedButInUse = { attempt: 1, sourceChecksum: "x", sourceAttempt: 1, targetChecksum: "x", targetAttempt: 1 };
  assert.equal(at("SyncReplica", { ...both, publishedNode: "a", sync: verifiedButInUse }).state, "SyncReplica", "never prune while published");
  assert.equal(
    at("PruneReplica", {
      configNodes: ["b"],
      replicas: [
        { node: "a", state: "Ready" },
        { node: "b", state: "Ready" },
      ],
    }).state,
    "PruneReplica",
  );
  // config moved and the volume Ready on the target: the pod may publish it while the old replica is deleted
  assert.deepEqual(
    at("PruneReplica", {
      configNodes: ["b"],
      replicas: [
        { node: "a", state: "Ready" },
        { node: "b", state: "Ready" },
      ],
    }).actions,
    [{ type: "annotate", volume: "v1", value: "migrateCompleted" }],
  );
  assert.deepEqual(
    at("PruneReplica", { configNodes: ["b"], state: "NotReady", replicas: [{ node: "b", state: "Ready" }] }).actions,
    [],
    "not before it is Ready",
  );
  const done = at("PruneReplica", { configNodes: ["b"], replicas: [{ node: "b", state: "Ready" }] });
  assert.equal(done.state, "Completed");
  assert.equal(types(done), "annotate,deleteSync");
  assert.equal(types(at("Completed", {})), "deleteMigrate");
  // a replica the data plane serves is not copied: its primary's `synced` counts
  const dp = {
    configNodes: ["a", "b"],
    replicas: [
      { node: "a", state: "Ready" },
      { node: "b", state: "Ready", dataPlane: true, synced: false },
    ],
  };
  assert.equal(types(at("SyncReplica", dp)), "");
  assert.match(at("SyncReplica", dp).message, /data plane is resyncing/);
  assert.equal(at("SyncReplica", { ...dp, replicas: [dp.replicas[0]!, { ...dp.replicas[1]!, synced: true }] }).state, "PruneReplica");
  // abort: before the prune it rolls back; during the prune it is ignored
  assert.equal(at("SyncReplica", both, { abort: true }).state, "ToBeAborted");
  assert.equal(types(at("ToBeAborted", both, { abort: true })), "rollbackTarget,deleteSync,annotate");
  assert.equal(at("PruneReplica", both, { abort: true }).state, "PruneReplica");
  assert.match(at("PruneReplica", both, { abort: true }).message, /abort ignored/);
});

test("editVolume: one primary at every step; prune moves the primary to the target", () => {
  const lv = oneReplica;
  const added = editVolume(lv, { type: "addTargetReplica", volume: "v1", target: "b", replicaNumber: 2 }, "10.0.0.2");
  assert.equal(added.spec?.replicaNumber, 2);
  assert.equal(added.spec?.config?.version, 4);
  assert.deepEqual(
    added.spec?.config?.replicas.map((r) => `${r.id}:${r.hostname}:${r.primary}`),
    ["1:a:true", "2:b:false"],
  );
  assert.equal(editVolume(added, { type: "addTargetReplica", volume: "v1", target: "b", replicaNumber: 2 }, ""), added, "idempotent");
  const pruned = editVolume(added, { type: "pruneSource", volume: "v1", source: "a", target: "b", replicaNumber: 1 }, "");
  assert.deepEqual(
    pruned.spec?.config?.replicas.map((r) => `${r.hostname}:${r.primary}`),
    ["b:true"],
  );
  assert.deepEqual(pruned.spec?.accessibility?.nodes, ["b"]);
  assert.equal(pruned.spec?.replicaNumber, 1);
  const rolled = editVolume(added, { type: "rollbackTarget", volume: "v1", source: "a", target: "b", replicaNumber: 1 }, "");
  assert.deepEqual(
    rolled.spec?.config?.replicas.map((r) => `${r.hostname}:${r.primary}`),
    ["a:true"],
  );
});

test("online: pre-copy while the pod runs, cut-over when every volume converged, final round once unpublished", () => {
  const both = {
    configNodes: ["a", "b"],
    replicas: [
      { node: "a", state: "Ready" },
      { node: "b", state: "Ready" },
    ],
    migrateState: "migrateStarted",
    publishedNode: "a",
  };
  const pod = { namespace: "db", name: "pg-0", managed: true };
  const at = (vols: Array<Partial<VolumeFact>>, extra: Partial<MigrateFacts> = {}) =>
    decideMigrate(
      facts({
        state: "SyncReplica",
        targetNode: "b",
        originalReplicaNumber: 1,
        volumes: vols.map((v, i) => vol({ name: `v${i + 1}`, ...both, ...v })),
        ...extra,
      }),
    );
  const running = at([{ sync: { attempt: 1, mode: "online", precopyRound: 3, precopyDeltaBytes: 200 * 1024 * 1024 }, podsOnSource: [pod] }]);
  assert.equal(types(running), "");
  assert.match(running.message, /pre-copy while the pod runs, round 3 \(last delta 200.0 MiB\)/);
  const ready = { attempt: 1, mode: "online" as const, precopyReady: true };
  assert.deepEqual(at([{ sync: ready, podsOnSource: [pod] }]).actions, [{ type: "stopPods", volume: "v1", pods: [{ namespace: "db", name: "pg-0" }] }]);
  // one volume of the group not converged yet: nobody is stopped
  assert.equal(
    types(
      at([
        { sync: ready, podsOnSource: [pod] },
        { sync: { attempt: 1, mode: "online" }, podsOnSource: [pod] },
      ]),
    ),
    "",
  );
  const bare = at([{ sync: ready, podsOnSource: [{ ...pod, managed: false }] }]);
  assert.equal(types(bare), "");
  assert.match(bare.message, /pod db\/pg-0 has no controller to recreate it: delete it to finish the cut-over/);
  assert.equal(types(at([{ sync: ready, publishedNode: undefined }])), "finalRound");
  assert.match(at([{ sync: { ...ready, final: true }, publishedNode: undefined }]).message, /final round/);
  const done = {
    ...ready,
    final: true,
    sourceChecksum: "x",
    sourceAttempt: 1,
    targetChecksum: "x",
    targetAttempt: 1,
    cutoverStart: "2026-01-01T00:00:00.000Z",
  };
  assert.equal(at([{ sync: done, publishedNode: undefined }]).state, "PruneReplica");
  const completed = decideMigrate(
    facts({
      state: "PruneReplica",
      targetNode: "b",
      now: Date.parse("2026-01-01T00:00:01.500Z"),
      volumes: [vol({ ...both, publishedNode: undefined, configNodes: ["b"], replicas: [{ node: "b", state: "Ready" }], sync: done })],
    }),
  );
  assert.equal(completed.state, "Completed");
  assert.match(completed.message, /cut-over pause from stopping the pod: 1.5 s/);
});

test("on-disk verification: the target goes live first, the source is deleted only after its disk read back equal", () => {
  const copied = { attempt: 1, sourceChecksum: "x", sourceAttempt: 1, targetChecksum: "x", targetAttempt: 1 };
  const both = {
    configNodes: ["a", "b"],
    primaryNode: "a",
    pvNodes: ["a"],
    replicas: [
      { node: "a", state: "Ready" },
      { node: "b", state: "Ready" },
    ],
  };
  const at = (v: Partial<VolumeFact>, extra: Partial<MigrateFacts> = {}) =>
    decideMigrate(
      facts({ state: "PruneReplica", targetNode: "b", originalReplicaNumber: 1, volumes: [vol({ migrateState: "migrateStarted", ...v })], ...extra }),
    );
  // not read back yet: the target is promoted (the source kept), the PV follows; nothing is deleted
  const promote = at({ ...both, sync: copied });
  assert.deepEqual(promote.actions, [
    { type: "promoteTarget", volume: "v1", source: "a", target: "b" },
    { type: "moveAffinity", volume: "v1", source: "a", target: "b" },
  ]);
  // promoted: the pod may publish on the target while the frozen state is re-read; the source stays
  const reading = at({ ...both, primaryNode: "b", pvNodes: ["b"], sync: copied });
  assert.deepEqual(reading.actions, [{ type: "annotate", volume: "v1", value: "migrateCompleted" }]);
  assert.equal(reading.state, "PruneReplica");
  assert.match(reading.message, /the target's disk to read back v1 \(the source replica is kept until it did\)/);
  // an on-disk digest of an older attempt does not count
  assert.equal(
    types(
      at({
        ...both,
        primaryNode: "b",
        pvNodes: ["b"],
        sync: { ...copied, attempt: 2, sourceAttempt: 2, targetAttempt: 2, targetDiskChecksum: "x", targetDiskAttempt: 1 },
      }),
    ),
    "annotate",
  );
  // equal: now the source goes
  const ok = at({
    ...both,
    primaryNode: "b",
    pvNodes: ["b"],
    migrateState: "migrateCompleted",
    sync: { ...copied, targetDiskChecksum: "x", targetDiskAttempt: 1 },
  });
  assert.deepEqual(ok.actions, [{ type: "pruneSource", volume: "v1", source: "a", target: "b", replicaNumber: 1 }]);
  // different: nothing deleted, the source kept, a condition and a Warning Event naming the volume and what to do
  const bad = {
    ...both,
    primaryNode: "b",
    pvNodes: ["b"],
    migrateState: "migrateCompleted",
    sync: { ...copied, targetDiskChecksum: "y", targetDiskAttempt: 1 },
  };
  const mismatch = at(bad);
  assert.equal(mismatch.state, "PruneReplica");
  assert.deepEqual(mismatch.actions, []);
  assert.equal(mismatch.event?.reason, "MigrateVerifyFailed");
  assert.equal(mismatch.condition?.type, "TargetVerified");
  assert.equal(mismatch.condition?.status, "False");
  assert.match(mismatch.message, /volume v1: the copy on node b does not read back from its disk as it was written \(on disk: y; copied: x\)/);
  assert.match(mismatch.message, /replica on a is kept/);
  assert.match(mismatch.message, /hwameistor\.io\/migrate-accept-unverified=true/);
  // …unless the operator accepts it
  assert.equal(types(at(bad, { acceptUnverified: true })), "pruneSource");
  const accepted = at({ ...bad, configNodes: ["b"], replicas: [{ node: "b", state: "Ready" }] }, { acceptUnverified: true });
  assert.equal(accepted.state, "Completed");
  assert.equal(accepted.condition?.reason, "AcceptedUnverified");
  // a replica the data plane resynced has no copy to read back: pruned at once, as before
  assert.equal(types(at({ ...both, replicas: [both.replicas[0]!, { node: "b", state: "Ready", dataPlane: true, synced: true }] })), "pruneSource,moveAffinity");
});

test("editVolume promoteTarget: the target primary, the source kept and not accessible; prune after it", () => {
  const lv = editVolume(oneReplica, { type: "addTargetReplica", volume: "v1", target: "b", replicaNumber: 2 }, "");
  const promoted = editVolume(lv, { type: "promoteTarget", volume: "v1", source: "a", target: "b" }, "");
  assert.deepEqual(
    promoted.spec?.config?.replicas.map((r) => `${r.hostname}:${r.primary}`),
    ["a:false", "b:true"],
  );
  assert.deepEqual(promoted.spec?.accessibility?.nodes, ["b"]);
  assert.equal(promoted.spec?.replicaNumber, 2);
  assert.equal(promoted.metadata?.annotations?.["hwameistor.io/migrate-extra-replica"], "true", "still a migration's extra replica, not HA");
  assert.equal(editVolume(promoted, { type: "promoteTarget", volume: "v1", source: "a", target: "b" }, ""), promoted, "idempotent");
  const pruned = editVolume(promoted, { type: "pruneSource", volume: "v1", source: "a", target: "b", replicaNumber: 1 }, "");
  assert.deepEqual(
    pruned.spec?.config?.replicas.map((r) => `${r.hostname}:${r.primary}`),
    ["b:true"],
  );
  assert.equal(pruned.spec?.replicaNumber, 1);
});
