// The LocalVolumeMigrate state machine (fact sheet §5.4), pure: the migrate object + facts about its volumes →
// next state, actions, status message. The original's state strings. Level-triggered: every pass re-derives
// what is left to do from the volumes themselves, so a controller killed at any point resumes (or rolls back)
// from the objects alone.
//
//   abort, state ∈ {"", Submitted, AddReplica, SyncReplica}   → ToBeAborted
//   abort, state ∈ {PruneReplica, Completed}                   → ignored (the copy is verified; message says so)
//   ""  volume missing / no replica on sourceNode / raw block  → Failed (nothing changed)
//       another active migration of the volume                 → Failed, naming it
//       volumes not Ready (every replica Ready)                → "" (waits, message names the volume)
//       expansion or snapshot in progress                      → "" (waits, names the object)
//       maxMigrateCount migrations active                      → "" (waits)
//       no target (suggested nodes or any candidate)           → "" (waits, names each node and why; Warning Event)
//       else annotate volumes migrateStarted (no NEW publish; a running pod keeps its volume)
//       else status {targetNode, volumes, originalReplicaNumber} → Submitted
//   Submitted    → AddReplica
//   AddReplica   → addTargetReplica per volume (replicaNumber+1, config + target replica, never primary);
//                  a Ready replica on the target for every volume → SyncReplica
//   SyncReplica  → ensureSync per volume (ConfigMap sync-config-<vol>: the node agents copy the replica,
//                  src/node/migrate/; the source says `mode`):
//                    online  (file engine: reflink pre-copy) — rounds while the pod runs; once every volume's
//                            source says precopyReady, stopPods (the pods on the source using them, managed pods
//                            only: a bare pod is named and waited for) = the cut-over starts (cutoverStart);
//                    offline (any other engine) — published on sourceNode: waits "still in use" (drain or the
//                            user stops the pod);
//                  unpublished everywhere → finalRound (the source's last round runs with the pod stopped);
//                  source and target checksums equal for every volume, none published → PruneReplica;
//                  different → restartSync + Warning Event. A target replica the native data plane serves
//                  (status.haState) is not copied: its primary resyncs it, and `synced` (with the volume
//                  unpublished) counts as verified (the original skips the copy for DRBD volumes the same way)
//   PruneReplica → per volume, once the target's disk read back equal to the copy (targetDiskChecksum of the
//                  attempt = the checksum; a data-plane replica needs none): pruneSource (config without the
//                  source, target primary, replicaNumber back, accessibility [target]); before that promoteTarget
//                  (target primary, the source kept as a plain replica, accessibility [target]) so the pod starts on
//                  the target while the frozen final state is re-read (src/node/migrate/verify.ts); PV node
//                  affinity moved with either. Volumes Ready with the target primary → migrateCompleted (the pod may
//                  publish); a different on-disk digest → nothing deleted, the source kept, condition
//                  TargetVerified=False + Warning Event MigrateVerifyFailed saying what the operator can do
//                  (annotation hwameistor.io/migrate-accept-unverified=true on the migration prunes anyway);
//                  no live replica left on the source and the volume Ready → deleteSync → Completed
//   Completed / Aborted / Failed → deleteMigrate (its finalizers, e.g. the evictor's, keep it until released)
//   ToBeAborted  → rollbackTarget per volume still holding its source (config without the target, replicaNumber
//                  back), deleteSync, annotation removed → Aborted
// Safety: the target only becomes primary in PruneReplica, after the checksums of what the source sent and of
// what the target wrote matched, and the source replica is deleted only after the target's disk read back equal; publishing is refused while migrateStarted (csi controller),
// so no pod ever uses a half-copied target, and the config has exactly one primary at every write.

import { AnnotationValues, Annotations, OperationStates as S, VolumeStates } from "../../api/names.ts";
import type { SyncFact } from "../../api/volume-sync.ts";

export interface VolumeFact {
  name: string;
  exists: boolean;
  replicaNumber: number;
  /** spec.config.replicas hostnames. */
  configNodes: string[];
  state: string;
  publishedNode?: string;
  migrateState?: string;
  rawblock?: boolean;
  /** Live (not deleting) replicas; `dataPlane`: served by the native data plane (status.haState), which resyncs it. */
  replicas: Array<{ node: string; state: string; synced?: boolean; dataPlane?: boolean }>;
  /** An expansion or snapshot in progress, named. */
  busy?: string;
  /** The primary replica's node in spec.config. */
  primaryNode?: string;
  /** Nodes named by the PV's node affinity (empty without a PV or affinity). */
  pvNodes?: string[];
  /** ConfigMap sync-config-<vol>; undefined when absent. */
  sync?: SyncFact;
  /** Pods on the source node using the volume (not already terminating); `managed`: has a controller owner. */
  podsOnSource?: Array<{ namespace: string; name: string; managed: boolean }>;
}

export interface MigrateFacts {
  name: string;
  state: string;
  abort: boolean;
  sourceNode: string;
  suggested: string[];
  targetNode?: string;
  originalReplicaNumber?: number;
  volumes: VolumeFact[];
  /** Target candidates for every volume (intersection, best first), excluding nodes holding a replica. */
  candidates: string[];
  /** Why nodes were rejected (for the message). */
  rejections: string;
  /** Other migrations in Submitted..PruneReplica. */
  activeOthers: number;
  maxMigrateCount: number;
  /** Name of another active migration of one of the volumes. */
  duplicateOf?: string;
  /** The clock (ms), for the cut-over pause in the final message. */
  now?: number;
  /** The migration's annotation hwameistor.io/migrate-accept-unverified=true: the operator accepts a target whose disk read back differently. */
  acceptUnverified?: boolean;
}

export type MigrateAction =
  | { type: "annotate"; volume: string; value: string | null }
  | { type: "addTargetReplica"; volume: string; target: string; replicaNumber: number }
  | { type: "ensureSync"; volume: string; source: string; target: string }
  | { type: "restartSync"; volume: string }
  | { type: "stopPods"; volume: string; pods: Array<{ namespace: string; name: string }> }
  | { type: "finalRound"; volume: string }
  | { type: "promoteTarget"; volume: string; source: string; target: string }
  | { type: "pruneSource"; volume: string; source: string; target: string; replicaNumber: number }
  | { type: "moveAffinity"; volume: string; source: string; target: string }
  | { type: "rollbackTarget"; volume: string; source: string; target: string; replicaNumber: number }
  | { type: "deleteSync"; volume: string }
  | { type: "deleteMigrate" };

export interface MigrateDecision {
  state: string;
  actions: MigrateAction[];
  message: string;
  status?: { targetNode?: string; volumes?: string[]; originalReplicaNumber?: number };
  event?: { type: "Normal" | "Warning"; reason: string; message: string };
  /** A condition to set on the migration's status (by type). */
  condition?: { type: string; status: "True" | "False" | "Unknown"; reason: string; message: string };
  requeueAfterMs?: number;
}

/** The migration's condition on the target's on-disk verification. */
export const TARGET_VERIFIED = "TargetVerified";

export const WAIT_MS = 5_000;
export const ACTIVE_STATES: readonly string[] = [S.Submitted, S.AddReplica, S.SyncReplica, S.PruneReplica];

const stay = (f: MigrateFacts, message: string, event?: MigrateDecision["event"], ms = WAIT_MS): MigrateDecision => ({
  state: f.state,
  actions: [],
  message,
  event,
  requeueAfterMs: ms,
});
const fail = (message: string, undo: MigrateAction[] = []): MigrateDecision => ({
  state: S.Failed,
  actions: undo,
  message,
  event: { type: "Warning", reason: "MigrateFailed", message },
});

export function decideMigrate(f: MigrateFacts): MigrateDecision {
  if (f.abort && ["", S.Submitted, S.AddReplica, S.SyncReplica].includes(f.state)) {
    return { state: S.ToBeAborted, actions: [], message: "abort requested", requeueAfterMs: 0 };
  }
  switch (f.state) {
    case "":
      return submit(f);
    case S.Submitted:
      return { state: S.AddReplica, actions: [], message: `adding a replica on ${f.targetNode}`, requeueAfterMs: 0 };
    case S.AddReplica:
      return addReplica(f);
    case S.SyncReplica:
      return syncReplica(f);
    case S.PruneReplica:
      return prune(f);
    case S.ToBeAborted:
      return rollback(f);
    case S.Completed:
    case S.Aborted:
    case S.Failed:
      return { state: f.state, actions: [{ type: "deleteMigrate" }], message: "" };
    default:
      return fail(`unknown state ${JSON.stringify(f.state)}`);
  }
}

function submit(f: MigrateFacts): MigrateDecision {
  const main = f.volumes[0];
  const undo = f.volumes.filter((v) => v.migrateState === AnnotationValues.MigrateStarted).map((v) => annotate(v.name, null));
  if (!main?.exists) return fail(`volume ${main?.name ?? "(none)"} does not exist`);
  if (f.duplicateOf) return fail(`volume ${main.name} is already being migrated by LocalVolumeMigrate ${f.duplicateOf}; abort that one first or wait for it`);
  for (const v of f.volumes) {
    if (!v.exists) return fail(`volume ${v.name} of the group does not exist`, undo);
    if (!v.configNodes.includes(f.sourceNode))
      return fail(`volume ${v.name} has no replica on node ${f.sourceNode} (replicas on: ${v.configNodes.join(", ") || "none"})`, undo);
    if (v.rawblock && v.replicaNumber < 2) return fail(`volume ${v.name} is a raw block volume without HA: it cannot be migrated (as the original)`, undo);
  }
  const notReady = f.volumes.find((v) => v.state !== VolumeStates.Ready || v.replicas.some((r) => r.state !== VolumeStates.Ready));
  if (notReady)
    return stay(
      f,
      `volume ${notReady.name} is ${notReady.state || "new"} (replicas: ${notReady.replicas.map((r) => `${r.node} ${r.state || "new"}`).join(", ")}): waiting until it and every replica are Ready`,
    );
  const busy = f.volumes.find((v) => v.busy);
  if (busy) return stay(f, `volume ${busy.name}: ${busy.busy}; the migration starts after it`);
  if (f.activeOthers >= f.maxMigrateCount)
    return stay(f, `${f.activeOthers} migration(s) in progress (maxMigrateCount ${f.maxMigrateCount}): waiting for a slot`, undefined, 10_000);
  const target = f.suggested.length > 0 ? f.suggested.find((n) => f.candidates.includes(n)) : f.candidates[0];
  if (!target) {
    const what = f.suggested.length > 0 ? `none of the suggested nodes (${f.suggested.join(", ")}) can take` : "no node can take";
    const msg = `${what} volume(s) ${f.volumes.map((v) => v.name).join(", ")}: ${f.rejections || "no other storage node"}`;
    return stay(f, msg, { type: "Warning", reason: "MigrateNoTarget", message: msg }, 15_000);
  }
  const annotations = f.volumes.filter((v) => v.migrateState !== AnnotationValues.MigrateStarted).map((v) => annotate(v.name, AnnotationValues.MigrateStarted));
  if (annotations.length > 0) return { state: "", actions: annotations, message: "volumes marked migrateStarted", requeueAfterMs: 0 };
  return {
    state: S.Submitted,
    actions: [],
    message: `moving ${f.volumes.map((v) => v.name).join(", ")} from ${f.sourceNode} to ${target}`,
    status: { targetNode: target, volumes: f.volumes.map((v) => v.name), originalReplicaNumber: main.replicaNumber },
    event: { type: "Normal", reason: "MigrateStarted", message: `moving ${f.volumes.map((v) => v.name).join(", ")} from ${f.sourceNode} to ${target}` },
    requeueAfterMs: 0,
  };
}

const annotate = (volume: string, value: string | null): MigrateAction => ({ type: "annotate", volume, value });
const orig = (f: MigrateFacts) => f.originalReplicaNumber ?? 1;

function addReplica(f: MigrateFacts): MigrateDecision {
  const t = f.targetNode!;
  const actions: MigrateAction[] = [];
  for (const v of f.volumes) {
    if (!v.exists) return fail(`volume ${v.name} disappeared during the migration`);
    if (!v.configNodes.includes(t)) actions.push({ type: "addTargetReplica", volume: v.name, target: t, replicaNumber: orig(f) + 1 });
  }
  if (actions.length > 0) return { state: S.AddReplica, actions, message: `adding a replica on ${t}`, requeueAfterMs: WAIT_MS };
  const waiting = f.volumes.filter((v) => !v.replicas.some((r) => r.node === t && r.state === VolumeStates.Ready));
  if (waiting.length > 0) return stay(f, `waiting for the new replica of ${waiting.map((v) => v.name).join(", ")} on ${t} to be Ready`);
  return { state: S.SyncReplica, actions: [], message: `copying data to ${t}`, requeueAfterMs: 0 };
}

const MiB = 1024 * 1024;

/** One volume's part of SyncReplica: verified, an action, or what it waits for; `inUse`: published on the source. */
interface VolumeStep {
  verified?: boolean;
  mismatch?: MigrateDecision;
  action?: MigrateAction;
  inUse?: boolean;
  /** In use and its online pre-copy converged (the cut-over may start). */
  ready?: boolean;
  /** Published somewhere other than the source: nothing may move. */
  blocked?: boolean;
  progress: string;
}

function syncStep(f: MigrateFacts, v: VolumeFact, t: string): VolumeStep {
  const s = v.sync;
  const onTarget = v.replicas.find((r) => r.node === t);
  if (onTarget?.dataPlane) {
    // The data plane resyncs the new replica itself (the original's DRBD path): wait for its primary's word.
    if (v.publishedNode) return { progress: `${v.name}: published on ${v.publishedNode}; the primary moves once it is unpublished` };
    if (onTarget.synced) return { verified: true, progress: `${v.name}: in sync (data plane)` };
    return { progress: `${v.name}: the data plane is resyncing the replica on ${t}` };
  }
  if (!s) return { action: { type: "ensureSync", volume: v.name, source: f.sourceNode, target: t }, progress: `${v.name}: starting` };
  const done = s.sourceChecksum && s.targetChecksum && s.sourceAttempt === s.attempt && s.targetAttempt === s.attempt;
  if (done && s.sourceChecksum === s.targetChecksum && !v.publishedNode)
    return { verified: true, progress: `${v.name}: verified (checksum ${s.targetChecksum})` };
  if (done && s.sourceChecksum !== s.targetChecksum) {
    const msg = `volume ${v.name}: checksum of the copy on ${t} (${s.targetChecksum}) differs from the source's (${s.sourceChecksum}); copying again`;
    const mismatch: MigrateDecision = {
      state: S.SyncReplica,
      actions: [{ type: "restartSync", volume: v.name }],
      message: msg,
      event: { type: "Warning", reason: "MigrateChecksumMismatch", message: msg },
      requeueAfterMs: WAIT_MS,
    };
    return { mismatch, progress: msg };
  }
  if (v.publishedNode && v.publishedNode !== f.sourceNode)
    return { blocked: true, progress: `${v.name}: published on ${v.publishedNode}, not on the source; waiting until it is unpublished` };
  if (v.publishedNode) {
    const ready = s.mode === "online" && s.precopyReady;
    if (!s.mode) return { inUse: true, progress: `${v.name}: waiting for node ${f.sourceNode} to start serving` };
    if (s.mode === "offline")
      return {
        inUse: true,
        progress: `${v.name}: still in use on node ${f.sourceNode}: this engine has no online pre-copy, the offline copy starts once its pod stops there (kubectl drain evicts it; new pods wait for the migration)`,
      };
    const delta = s.precopyDeltaBytes !== undefined ? ` (last delta ${(s.precopyDeltaBytes / MiB).toFixed(1)} MiB)` : "";
    return { inUse: true, ready, progress: `${v.name}: pre-copy while the pod runs, round ${s.precopyRound ?? 0}${delta}${s.error ? `; ${s.error}` : ""}` };
  }
  if (!s.final) return { action: { type: "finalRound", volume: v.name }, progress: `${v.name}: unpublished, final round` };
  if (s.error) return { progress: `${v.name}: ${s.error}` };
  const pct = s.totalBytes ? `, ${Math.floor(((s.progressBytes ?? 0) / s.totalBytes) * 100)}% of ${s.totalBytes} bytes` : ", waiting for the node agents";
  return { progress: `${v.name}: final round${pct}` };
}

/** The cut-over's first step: stop the (managed) pods using the volumes on the source; a bare pod is named. */
function stopPods(inUse: VolumeFact[]): { action?: MigrateAction; progress: string } {
  const pods = new Map<string, { namespace: string; name: string; managed: boolean }>();
  for (const v of inUse) for (const p of v.podsOnSource ?? []) pods.set(`${p.namespace}/${p.name}`, p);
  const bare = [...pods.values()].filter((p) => !p.managed);
  if (bare.length > 0)
    return {
      progress: `pre-copy done; pod ${bare.map((p) => `${p.namespace}/${p.name}`).join(", ")} has no controller to recreate it: delete it to finish the cut-over`,
    };
  if (pods.size === 0) return { progress: "cut-over: waiting for the volume to be unpublished on the source" };
  return {
    action: { type: "stopPods", volume: inUse[0]!.name, pods: [...pods.values()].map(({ namespace, name }) => ({ namespace, name })) },
    progress: `cut-over: stopping pod ${[...pods.keys()].join(", ")}`,
  };
}

function syncReplica(f: MigrateFacts): MigrateDecision {
  const t = f.targetNode!;
  const steps = f.volumes.map((v) => ({ v, step: syncStep(f, v, t) }));
  const mismatch = steps.find((x) => x.step.mismatch)?.step.mismatch;
  if (mismatch) return mismatch;
  if (steps.every((x) => x.step.verified))
    return { state: S.PruneReplica, actions: [], message: `copy verified; pruning the replica on ${f.sourceNode}`, requeueAfterMs: 0 };
  const actions = steps.flatMap((x) => (x.step.action ? [x.step.action] : []));
  const progress = steps.map((x) => x.step.progress);
  // The cut-over: every volume in use converged (and none elsewhere) → stop the pods using them on the source;
  // their controllers recreate them, the replacements wait (migrateStarted) and run on the target once moved.
  const inUse = steps.filter((x) => x.step.inUse);
  if (inUse.length > 0 && inUse.every((x) => x.step.ready) && !steps.some((x) => x.step.blocked)) {
    const cut = stopPods(inUse.map((x) => x.v));
    if (cut.action) actions.push(cut.action);
    progress.push(cut.progress);
  }
  // During the cut-over every second counts (the controller does not watch volumes, it polls them).
  const cutover = f.volumes.some((v) => v.sync?.cutoverStart || v.sync?.final);
  return { state: S.SyncReplica, actions, message: `copying to ${t}: ${progress.join("; ")}`, requeueAfterMs: cutover ? 500 : 2_000 };
}

/** A volume's on-disk verification: done, waiting for the target's re-read, or a different digest (the message). */
function diskCheck(f: MigrateFacts, v: VolumeFact): { verified: true } | { waiting: true } | { mismatch: string } {
  const s = v.sync;
  if (!s) return { verified: true }; // a data-plane replica: resynced and checked by the data plane, no copy
  if (s.targetDiskAttempt !== s.attempt || !s.targetDiskChecksum) return { waiting: true };
  if (s.targetDiskChecksum === s.sourceChecksum) return { verified: true };
  return {
    mismatch:
      `volume ${v.name}: the copy on node ${f.targetNode} does not read back from its disk as it was written ` +
      `(on disk: ${s.targetDiskChecksum}; copied: ${s.sourceChecksum}) — that disk may be failing. Nothing is deleted: the replica on ` +
      `${f.sourceNode} is kept as it was at the cut-over (writes since then are only on ${f.targetNode}). Check ${f.targetNode}'s disk ` +
      `(dmesg, SMART); to read it again remove key ${"targetDiskChecksum"} from ConfigMap sync-config-${v.name}; to delete the source ` +
      `replica anyway annotate this LocalVolumeMigrate ${Annotations.MigrateAcceptUnverified}=true`,
  };
}

function prune(f: MigrateFacts): MigrateDecision {
  const t = f.targetNode!;
  const note = f.abort ? " (abort ignored: the copy is verified and the source is being removed)" : "";
  const actions: MigrateAction[] = [];
  const checks = f.volumes.map((v) => ({ v, c: diskCheck(f, v) }));
  const mismatches = checks.flatMap((x) => ("mismatch" in x.c ? [x.c.mismatch] : []));
  for (const { v, c } of checks) {
    if (v.configNodes.includes(f.sourceNode)) {
      // The source replica goes only once the target's disk read back equal (or the operator accepted it); until
      // then the target is made primary with the source kept, so the pod need not wait for the re-read.
      if ("verified" in c || f.acceptUnverified) actions.push({ type: "pruneSource", volume: v.name, source: f.sourceNode, target: t, replicaNumber: orig(f) });
      else if (v.primaryNode !== t) actions.push({ type: "promoteTarget", volume: v.name, source: f.sourceNode, target: t });
    }
    if (v.pvNodes?.includes(f.sourceNode)) actions.push({ type: "moveAffinity", volume: v.name, source: f.sourceNode, target: t });
  }
  if (actions.length > 0) return { state: S.PruneReplica, actions, message: `removing the replica on ${f.sourceNode}${note}`, requeueAfterMs: WAIT_MS };
  // The volume is Ready with the target primary (config and affinity moved): its pod may publish it now — the
  // on-disk verification and deleting the old replica need not be part of the cut-over pause.
  const release = f.volumes
    .filter(
      (v) =>
        v.state === VolumeStates.Ready && (v.primaryNode === t || !v.configNodes.includes(f.sourceNode)) && v.migrateState === AnnotationValues.MigrateStarted,
    )
    .map((v) => annotate(v.name, AnnotationValues.MigrateCompleted));
  const releaseAll = release.length === f.volumes.filter((v) => v.migrateState === AnnotationValues.MigrateStarted).length ? release : [];
  if (mismatches.length > 0 && !f.acceptUnverified) {
    const msg = mismatches.join("; ");
    return {
      ...stay(f, msg, { type: "Warning", reason: "MigrateVerifyFailed", message: msg }, 15_000),
      actions: releaseAll,
      condition: { type: TARGET_VERIFIED, status: "False", reason: "OnDiskMismatch", message: msg },
    };
  }
  const waiting = f.volumes.filter((v) => v.replicas.some((r) => r.node === f.sourceNode) || v.state !== VolumeStates.Ready);
  if (waiting.length > 0) {
    const reading = checks.filter((x) => "waiting" in x.c).map((x) => x.v.name);
    const what = reading.length
      ? `the target's disk to read back ${reading.join(", ")} (the source replica is kept until it did)`
      : `${waiting.map((v) => v.name).join(", ")} to drop the replica on ${f.sourceNode} and be Ready`;
    return { ...stay(f, `waiting for ${what}${note}`), actions: releaseAll, requeueAfterMs: 1_000 };
  }
  const start = f.volumes.map((v) => v.sync?.cutoverStart).find((x) => x);
  const pause = start && f.now ? ` (cut-over pause from stopping the pod: ${((f.now - Date.parse(start)) / 1000).toFixed(1)} s)` : "";
  const msg = `moved ${f.volumes.map((v) => v.name).join(", ")} from ${f.sourceNode} to ${t}${pause}`;
  const accepted = mismatches.length > 0;
  return {
    state: S.Completed,
    actions: f.volumes.flatMap((v) => [annotate(v.name, AnnotationValues.MigrateCompleted), { type: "deleteSync" as const, volume: v.name }]),
    message: msg,
    event: { type: "Normal", reason: "MigrateCompleted", message: msg },
    condition: accepted
      ? { type: TARGET_VERIFIED, status: "False", reason: "AcceptedUnverified", message: `the operator accepted: ${mismatches.join("; ")}` }
      : { type: TARGET_VERIFIED, status: "True", reason: "OnDiskChecksumMatched", message: "the target's disk read back equal to the copy for every volume" },
    requeueAfterMs: 0,
  };
}

function rollback(f: MigrateFacts): MigrateDecision {
  const actions: MigrateAction[] = [];
  for (const v of f.volumes) {
    if (!v.exists) continue;
    if (f.targetNode && v.configNodes.includes(f.targetNode) && v.configNodes.includes(f.sourceNode))
      actions.push({ type: "rollbackTarget", volume: v.name, source: f.sourceNode, target: f.targetNode, replicaNumber: orig(f) });
    actions.push({ type: "deleteSync", volume: v.name });
    if (v.migrateState === AnnotationValues.MigrateStarted) actions.push(annotate(v.name, null));
  }
  const msg = `aborted: ${f.volumes.map((v) => v.name).join(", ")} stay on ${f.sourceNode}`;
  return { state: S.Aborted, actions, message: msg, event: { type: "Normal", reason: "MigrateAborted", message: msg }, requeueAfterMs: 0 };
}
