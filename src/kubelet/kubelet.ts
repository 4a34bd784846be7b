// The kubelet role of a node agent (standalone and dev cluster; in a real cluster the kubelet does this):
// for pods bound to this node it mounts their volumes (volumes.ts), runs their containers as host
// processes (src/host/container), reports container statuses, phase and conditions (pod-status.ts),
// serves their logs (logs.ts), and on deletion stops them gracefully (SIGTERM, terminationGracePeriodSeconds,
// SIGKILL), unmounts the volumes and deletes the pod object (grace 0), as the kubelet finishes a graceful
// deletion.
//
// SECURITY: whoever may create a pod may run any command on this host as any user (runAsUser, default
// root) and bind any hostPath. That is why this role is OFF by default (`hwameistor node --run-pods`).
//
// State and crash safety. Each pod has a record (<root>/pods/<uid>/hwameistor-pod.json: volumes published,
// paths created, per container the pid, restart count, last termination). Container processes are not
// children that die with the agent: they log to files and the shim writes their exit status to a file. A
// restarted agent reads the records, re-adopts live processes (pid + command line check), learns how dead
// ones ended from the status file, and sweeps /proc for shims of this root that no record names (a crash
// between start and record write) — those are stopped. Volumes are listed in the record before they are
// published, so teardown finds everything. Keys are pod UIDs: a StatefulSet pod recreated under the same
// name is a different pod, and the old one is torn down first.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, renameSync, writeFileSync } from "node:fs";
import { rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Container, CoreNode, EnvVar, Pod, Probe, Pv, Pvc, VolumeAttachment } from "../api/core.ts";
import { HwError } from "../api/errors.ts";
import { CsiClient } from "../csi/client.ts";
import { discoverPlugins } from "../csi/registration.ts";
import {
  ensureTarget,
  execProbe,
  findContainerProcesses,
  isContainerAlive,
  killContainer,
  readExitStatus,
  signalContainer,
  startContainerProcess,
  type BindSpec,
} from "../host/container/container.ts";
import type { KubeClient } from "../kube/client.ts";
import { Controller } from "../kube/controller.ts";
import { Informer } from "../kube/informer.ts";
import { CSI_DRIVER, CSI_NODE, NODE, POD, PV, PVC, VOLUME_ATTACHMENT, metaTime } from "../kube/resources.ts";
import { isNotFound } from "../kube/transport.ts";
import { stderrLogger, type KubeObject, type Logger, type Service } from "../kube/types.ts";
import { startLogServer, type LogServer } from "./logs.ts";
import { containerLogDir, containerLogPath, containerRcPath, podDir, podRecordPath, podsDir } from "./paths.ts";
import { backoffMs, podStatus, restartPolicyOf, shouldRestart, type ContainerRuntime } from "./pod-status.ts";
import { expandVolume, needsNodeExpansion, resolvePodVolumes, setUpVolume, tearDownVolume, type CsiNodeClients, type VolumeRecord } from "./volumes.ts";

export const KUBELET_COMPONENT = "kubelet";
export const DEFAULT_KUBELET_ROOT = "/var/lib/kubelet";
/** A container that could not be created is tried again this much later (the kubelet's pod worker back-off). */
const START_RETRY_MS = 10_000;
/** PATH a container gets when its env sets none (what container images usually set). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

type K = KubeObject;

export interface KubeletOptions {
  client: KubeClient;
  nodeName: string;
  /** --kubelet-root (default /var/lib/kubelet). */
  root?: string;
  /** driver name → its node service socket on this node (the plugin registration a kubelet gets). */
  csiSockets: Record<string, string>;
  /**
   * The kubelet's plugin registry (`<root>/plugins_registry`): when given, drivers are found the way a
   * kubelet finds them — registration sockets there (GetInfo, NodeGetInfo, NotifyRegistrationStatus), looked
   * at every 5 s — and `csiSockets` is not used.
   */
  registrationDir?: string;
  /** The node's address (pod IPs: pods share the node's network namespace). */
  hostIP: string;
  /** Port of the log endpoint (default 0 = any free port; published in the Node's daemonEndpoints). */
  logPort?: number;
  /** Bearer token the log endpoint accepts (the API server forwards the caller's token). */
  token?: string;
  log?: Logger;
}

interface ContainerRecord {
  restartCount: number;
  pid?: number;
  startedAt?: string;
  /** The last termination (state.terminated while not restarted, lastState after). */
  terminated?: { exitCode: number; reason: string; startedAt?: string; finishedAt: string };
  /** Not before this time (epoch ms) is a crashed container started again. */
  nextStartAt?: number;
  /** Why it could not be created (CreateContainerConfigError): tried again at nextStartAt (START_RETRY_MS later),
   * as the kubelet's pod worker retries a failed sync after its back-off period (what was missing may appear; a
   * bad spec keeps failing, its Event repeated). */
  configError?: string;
}

interface PodRecord {
  uid: string;
  namespace: string;
  name: string;
  gracePeriodSeconds: number;
  startTime: string;
  volumes: VolumeRecord[];
  /** Bind targets this role created on the host (removed again at teardown). */
  createdPaths: string[];
  containers: Record<string, ContainerRecord>;
  /** When SIGTERM was sent (teardown). */
  terminatingSince?: number;
}

export interface Kubelet extends Service {
  logPort: number;
}

export async function startKubelet(o: KubeletOptions): Promise<Kubelet> {
  const log = o.log ?? stderrLogger;
  const root = o.root ?? DEFAULT_KUBELET_ROOT;
  mkdirSync(podsDir(root), { recursive: true });
  const c = o.client;
  const pods = c.forKind<Pod & K>(POD);
  const pvcClient = c.forKind<Pvc & K>(PVC);
  const inf = {
    pod: new Informer<Pod & K>(pods, { fieldSelector: `spec.nodeName=${o.nodeName}`, log, name: "kubelet-pods", resyncPeriodMs: 10_000 }),
    pvc: new Informer<Pvc & K>(pvcClient, { log }),
    pv: new Informer<Pv & K>(c.forKind(PV), { log }),
    va: new Informer<VolumeAttachment & K>(c.forKind(VOLUME_ATTACHMENT), { log }),
    csidriver: new Informer<K>(c.forKind(CSI_DRIVER), { log }),
  };

  // ---- CSI clients (one per driver socket)
  const clients = new Map<string, CsiClient>();
  const stageCaps = new Map<string, boolean>();
  const sockets: Record<string, string> = o.registrationDir ? {} : { ...o.csiSockets };
  const csi: CsiNodeClients = {
    client: (driver) => {
      const sock = sockets[driver];
      if (!sock || !existsSync(sock)) return undefined;
      let cl = clients.get(driver);
      if (!cl) {
        cl = new CsiClient(sock);
        clients.set(driver, cl);
      }
      return cl;
    },
    canStage: async (driver) => {
      const known = stageCaps.get(driver);
      if (known !== undefined) return known;
      const cl = csi.client(driver);
      if (!cl) return false;
      const caps = await cl.nodeGetCapabilities();
      const yes = (caps.capabilities ?? []).some((x) => (x as { rpc?: { type?: string } }).rpc?.type === "STAGE_UNSTAGE_VOLUME");
      stageCaps.set(driver, yes);
      return yes;
    },
  };

  // ---- records
  const records = new Map<string, PodRecord>();
  const save = (r: PodRecord) => {
    mkdirSync(podDir(root, r.uid), { recursive: true });
    const p = podRecordPath(root, r.uid);
    writeFileSync(`${p}.tmp`, JSON.stringify(r, null, 1));
    renameSync(`${p}.tmp`, p);
  };
  for (const uid of readdirSync(podsDir(root))) {
    try {
      records.set(uid, JSON.parse(readFileSync(podRecordPath(root, uid), "utf8")) as PodRecord);
    } catch {
      // a pod dir without a record: created and crashed before the first save; removed by the sweep below
      if (!existsSync(podRecordPath(root, uid))) rmSync(podDir(root, uid), { recursive: true, force: true });
    }
  }
  sweepOrphanProcesses(root, records, log);

  const podByUid = (uid: string) => inf.pod.list().find((p) => p.metadata?.uid === uid);
  const waiters = new Map<string, Promise<unknown>>();
  /** Readiness probe state per `<pod uid>/<container>` (see readiness()). */
  const probes = new Map<string, { pid: number; ready: boolean; successes: number; failures: number; nextAt: number; warned?: boolean }>();
  const ctl: Controller = new Controller({
    name: "kubelet",
    workers: 4,
    events: { client: c, component: KUBELET_COMPONENT, host: o.nodeName },
    log,
    reconcile: async (uid) => syncPod(uid),
  });
  const uidKeys = () => [...new Set([...inf.pod.list().map((p) => p.metadata?.uid ?? ""), ...records.keys()])].filter(Boolean);
  ctl.watch(inf.pod, (p) => p.metadata?.uid);
  // Volumes becoming ready (binding, attachment, resize) concern the pods of this node that use them.
  const podsUsing = (pvcNs: string | undefined, pvcName: string | undefined) =>
    inf.pod
      .list()
      .filter((p) => p.metadata?.namespace === pvcNs && (p.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === pvcName))
      .map((p) => p.metadata?.uid ?? "");
  ctl.watch(inf.pvc, (pvc) => podsUsing(pvc.metadata?.namespace, pvc.metadata?.name));
  ctl.watch(inf.pv, (pv) => (pv.spec?.claimRef ? podsUsing(pv.spec.claimRef.namespace, pv.spec.claimRef.name) : undefined));
  ctl.watch(inf.va, (va) => {
    if (va.spec?.nodeName !== o.nodeName) return undefined;
    const pv = inf.pv.getByName(va.spec.source?.persistentVolumeName ?? "");
    return pv?.spec?.claimRef ? podsUsing(pv.spec.claimRef.namespace, pv.spec.claimRef.name) : undefined;
  });
  ctl.watch(inf.csidriver, () => uidKeys());

  function facts() {
    const noAttach = new Set(
      inf.csidriver
        .list()
        .filter((d) => (d as { spec?: { attachRequired?: boolean } }).spec?.attachRequired === false)
        .map((d) => d.metadata?.name ?? ""),
    );
    return { pvcs: inf.pvc.list(), pvs: inf.pv.list(), attachments: inf.va.list(), noAttach };
  }

  async function syncPod(uid: string): Promise<{ requeueAfterMs?: number } | void> {
    const pod = podByUid(uid);
    let rec = records.get(uid);
    const finished = pod?.status?.phase === "Succeeded" || pod?.status?.phase === "Failed";
    if (!pod || pod.metadata?.deletionTimestamp) {
      if (!rec) {
        if (pod) await finalDelete(pod);
        return;
      }
      return teardown(rec, pod, true);
    }
    if (!rec) {
      // Another pod of the same name may still be on its way out: that one is torn down by its own key.
      rec = {
        uid,
        namespace: pod.metadata?.namespace ?? "default",
        name: pod.metadata?.name ?? "",
        gracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30,
        startTime: metaTime(),
        volumes: [],
        createdPaths: [],
        containers: {},
      };
      records.set(uid, rec);
      save(rec);
    }
    if (finished) return teardown(rec, pod, false);
    return setUp(pod, rec);
  }

  async function setUp(pod: Pod & K, rec: PodRecord): Promise<{ requeueAfterMs?: number } | void> {
    // ---- volumes
    let blockedBy: string | undefined;
    let resolved;
    try {
      resolved = resolvePodVolumes(pod, o.nodeName, root, facts());
      blockedBy = resolved.waiting;
    } catch (e) {
      blockedBy = (e as Error).message;
    }
    if (resolved && !blockedBy) {
      for (const vr of resolved.records) {
        if (!rec.volumes.some((x) => x.pv === vr.pv)) {
          rec.volumes.push(vr);
          save(rec); // listed before publish: a crash from here on is cleaned up by teardown
        }
        const cur = rec.volumes.find((x) => x.pv === vr.pv)!;
        const { pv, pvc, publishContext } = resolved.pvs.get(vr.name)!;
        try {
          const staged = cur.staging;
          await setUpVolume(root, csi, cur, pv, publishContext);
          if (cur.staging !== staged) save(rec);
          if (needsNodeExpansion(pvc)) {
            const patch = await expandVolume(csi, cur, pv, pvc);
            await pvcClient.patchStatus(pvc.metadata?.name ?? "", patch, { namespace: pvc.metadata?.namespace });
            await ctl.recordEvent(
              pvc as K,
              "Normal",
              "FileSystemResizeSuccessful",
              `MountVolume.NodeExpandVolume succeeded for volume "${cur.pv}" ${o.nodeName}`,
            );
          }
        } catch (e) {
          blockedBy = `MountVolume.SetUp failed for volume "${cur.pv}" : ${(e as Error).message}`;
          await ctl.recordEvent(pod, "Warning", "FailedMount", blockedBy);
          break;
        }
      }
    }

    // ---- containers
    const policy = restartPolicyOf(pod);
    const now = Date.now();
    const runtimes: ContainerRuntime[] = [];
    let changed = false;
    let nextWakeMs: number | undefined;
    for (const spec of pod.spec?.containers ?? []) {
      const cr = (rec.containers[spec.name] ??= { restartCount: 0 });
      const rcFile = containerRcPath(root, rec.uid, spec.name, cr.restartCount);
      if (cr.pid !== undefined && !isContainerAlive(cr.pid, rcFile)) {
        const code = readExitStatus(rcFile) ?? 137;
        cr.terminated = { exitCode: code, reason: code === 0 ? "Completed" : "Error", startedAt: cr.startedAt, finishedAt: metaTime() };
        cr.pid = undefined;
        cr.nextStartAt = now + backoffMs(cr.restartCount);
        changed = true;
      }
      const running = cr.pid !== undefined;
      const due = now >= (cr.nextStartAt ?? 0);
      const wantsStart = !cr.terminated || shouldRestart(policy, cr.terminated.exitCode);
      if (!running && !blockedBy && wantsStart && due) {
        if (cr.terminated) cr.restartCount++;
        try {
          await startContainer(pod, rec, spec, cr);
          changed = true;
        } catch (e) {
          if (cr.terminated) cr.restartCount--;
          cr.configError = (e as Error).message;
          cr.nextStartAt = now + START_RETRY_MS;
          changed = true;
          await ctl.recordEvent(pod, "Warning", "Failed", `Error: ${cr.configError}`);
        }
      }
      if (cr.pid === undefined && !blockedBy && wantsStart && (cr.nextStartAt ?? 0) > now) {
        nextWakeMs = Math.min(nextWakeMs ?? Infinity, Math.max(100, cr.nextStartAt! - now));
      }
      const rt = runtimeOf(spec, cr, blockedBy, policy, now);
      if (spec.readinessProbe && cr.pid !== undefined) {
        const r = await readiness(pod, rec, spec, spec.readinessProbe, cr.pid, cr.startedAt);
        rt.ready = r.ready;
        if (r.nextMs !== undefined) nextWakeMs = Math.min(nextWakeMs ?? Infinity, r.nextMs);
      }
      runtimes.push(rt);
    }
    if (changed) save(rec);

    // ---- status
    const status = podStatus({ pod, containers: runtimes, hostIP: o.hostIP, startTime: rec.startTime, now: metaTime(), blockedBy });
    if (statusDiffers(pod.status, status)) {
      try {
        await pods.patchStatus(rec.name, { status }, { namespace: rec.namespace });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    if (blockedBy) return { requeueAfterMs: 2000 };
    // A running container's exit is noticed through its `exited` promise (or this poll after a restart).
    return { requeueAfterMs: nextWakeMs ?? 2000 };
  }

  function runtimeOf(spec: Container, cr: ContainerRecord, blockedBy: string | undefined, policy: string, now: number): ContainerRuntime {
    const image = spec.image ?? "";
    const last = cr.terminated ? { terminated: cr.terminated } : {};
    if (cr.pid !== undefined) {
      return {
        name: spec.name,
        image,
        restartCount: cr.restartCount,
        containerID: `hwameistor://${cr.pid}`,
        state: { running: { startedAt: cr.startedAt } },
        lastState: cr.restartCount > 0 ? last : {},
      };
    }
    if (cr.configError)
      return {
        name: spec.name,
        image,
        restartCount: cr.restartCount,
        state: { waiting: { reason: "CreateContainerConfigError", message: cr.configError } },
        lastState: last,
      };
    if (cr.terminated) {
      if (shouldRestart(policy as never, cr.terminated.exitCode)) {
        const wait = Math.max(0, Math.round(((cr.nextStartAt ?? now) - now) / 1000));
        return {
          name: spec.name,
          image,
          restartCount: cr.restartCount,
          state: { waiting: { reason: "CrashLoopBackOff", message: `back-off ${wait}s restarting failed container=${spec.name}` } },
          lastState: last,
        };
      }
      return { name: spec.name, image, restartCount: cr.restartCount, state: last, lastState: {} };
    }
    return {
      name: spec.name,
      image,
      restartCount: cr.restartCount,
      state: { waiting: { reason: "ContainerCreating", ...(blockedBy ? { message: blockedBy } : {}) } },
      lastState: {},
    };
  }

  async function startContainer(pod: Pod & K, rec: PodRecord, spec: Container, cr: ContainerRecord): Promise<void> {
    const command = [...(spec.command ?? []), ...(spec.args ?? [])];
    if (!spec.command?.length) {
      throw new HwError(
        "INVALID_ARGUMENT",
        "NoCommand",
        `container ${spec.name} has no command: images are not run here (${spec.image ?? "no image"} is only recorded), so command must name a host program`,
      );
    }
    const binds: BindSpec[] = [];
    for (const m of spec.volumeMounts ?? []) {
      binds.push({ source: volumeSource(pod, rec, m.name, m.subPath), target: m.mountPath, readOnly: m.readOnly });
    }
    for (const d of spec.volumeDevices ?? []) {
      const vr = rec.volumes.find((v) => v.name === d.name);
      if (!vr?.block)
        throw new HwError("INVALID_ARGUMENT", "NotBlock", `volumeDevices ${d.name} of container ${spec.name} is not a block-mode PersistentVolumeClaim volume`);
      binds.push({ source: vr.target, target: d.devicePath });
    }
    for (const b of binds) {
      const isFile = (spec.volumeDevices ?? []).some((d) => d.devicePath === b.target);
      const created = ensureTarget(b.target, isFile ? "file" : "dir");
      if (created.length) {
        rec.createdPaths.push(...created);
        save(rec);
      }
    }
    const env = containerEnv(pod, spec, o.nodeName, o.hostIP);
    const { uid, gid } = userOf(pod, spec);
    mkdirSync(containerLogDir(root, rec.uid, spec.name), { recursive: true });
    const rcFile = containerRcPath(root, rec.uid, spec.name, cr.restartCount);
    rmSync(rcFile, { force: true });
    const started = await startContainerProcess({
      command,
      env,
      workingDir: spec.workingDir,
      runAsUser: uid,
      runAsGroup: gid,
      binds,
      rcFile,
      logFile: containerLogPath(root, rec.uid, spec.name, cr.restartCount),
    });
    cr.pid = started.pid;
    cr.startedAt = metaTime();
    cr.configError = undefined;
    save(rec);
    const key = rec.uid;
    waiters.set(
      `${key}/${spec.name}`,
      started.exited.then(() => ctl.enqueue(key)),
    );
    log.info({ pod: `${rec.namespace}/${rec.name}`, container: spec.name, pid: started.pid, restart: cr.restartCount }, "container started");
    await ctl.recordEvent(pod, "Normal", "Started", `Started container ${spec.name}`);
  }

  /**
   * The readiness verdict of a running container, as the kubelet's prober keeps it: not ready until the exec
   * probe succeeded successThreshold times (after initialDelaySeconds), not ready again after failureThreshold
   * failures; probed every periodSeconds, each run bounded by timeoutSeconds. Kept in memory: a restarted
   * agent starts again from "not ready" (as a restarted kubelet does). Only `exec` probes are run.
   */
  async function readiness(
    pod: Pod & K,
    rec: PodRecord,
    spec: Container,
    p: Probe,
    pid: number,
    startedAt?: string,
  ): Promise<{ ready: boolean; nextMs?: number }> {
    const key = `${rec.uid}/${spec.name}`;
    let st = probes.get(key);
    if (!st || st.pid !== pid) {
      const start = Date.parse(startedAt ?? "") || Date.now();
      st = { pid, ready: false, successes: 0, failures: 0, nextAt: start + (p.initialDelaySeconds ?? 0) * 1000 };
      probes.set(key, st);
    }
    const command = p.exec?.command;
    if (!command?.length) {
      if (!st.warned) {
        st.warned = true;
        await ctl.recordEvent(
          pod,
          "Warning",
          "Unhealthy",
          `Readiness probe errored: container ${spec.name}: only exec probes are run here, the container stays not ready`,
        );
      }
      return { ready: false };
    }
    if (Date.now() >= st.nextAt) {
      const { uid, gid } = userOf(pod, spec);
      const env = containerEnv(pod, spec, o.nodeName, o.hostIP);
      const r = await execProbe(pid, { command, env, workingDir: spec.workingDir, runAsUser: uid, runAsGroup: gid }, Math.max(1, p.timeoutSeconds ?? 1) * 1000);
      st.nextAt = Date.now() + Math.max(1, p.periodSeconds ?? 10) * 1000;
      if (r.ok) {
        st.failures = 0;
        if (++st.successes >= Math.max(1, p.successThreshold ?? 1)) st.ready = true;
      } else {
        st.successes = 0;
        if (++st.failures >= Math.max(1, p.failureThreshold ?? 3) && st.ready) {
          st.ready = false;
          await ctl.recordEvent(pod, "Warning", "Unhealthy", `Readiness probe failed: ${r.output.slice(0, 500)}`);
        }
      }
    }
    return { ready: st.ready, nextMs: Math.max(100, st.nextAt - Date.now()) };
  }

  function volumeSource(pod: Pod, rec: PodRecord, name: string, subPath: string | undefined): string {
    const v = (pod.spec?.volumes ?? []).find((x) => x.name === name);
    if (!v) throw new HwError("INVALID_ARGUMENT", "NoVolume", `volumeMount ${name} names no volume of the pod`);
    let base: string;
    if (v.persistentVolumeClaim) {
      const vr = rec.volumes.find((x) => x.name === name);
      if (!vr) throw new HwError("UNAVAILABLE", "VolumeNotMountedYet", `volume ${name} is not mounted yet`);
      if (vr.block) throw new HwError("INVALID_ARGUMENT", "BlockAsMount", `volume ${name} is a block volume: use volumeDevices`);
      base = vr.target;
    } else if (v.emptyDir) {
      base = join(podDir(root, rec.uid), "volumes", "kubernetes.io~empty-dir", name);
      mkdirSync(base, { recursive: true });
    } else if (v.hostPath) {
      base = v.hostPath.path;
    } else {
      throw new HwError(
        "INVALID_ARGUMENT",
        "UnsupportedVolume",
        `volume ${name}: only persistentVolumeClaim, emptyDir and hostPath volumes are supported here`,
      );
    }
    if (!subPath) return base;
    if (subPath.startsWith("/") || subPath.split("/").includes(".."))
      throw new HwError("INVALID_ARGUMENT", "InvalidSubPath", `subPath ${JSON.stringify(subPath)} must be relative and stay inside the volume`);
    const p = join(base, subPath);
    mkdirSync(p, { recursive: true });
    return p;
  }

  async function teardown(rec: PodRecord, pod: (Pod & K) | undefined, deleting: boolean): Promise<{ requeueAfterMs?: number } | void> {
    const grace = pod?.metadata?.deletionGracePeriodSeconds ?? pod?.spec?.terminationGracePeriodSeconds ?? rec.gracePeriodSeconds;
    let alive = 0;
    for (const [name, cr] of Object.entries(rec.containers)) {
      if (cr.pid === undefined) continue;
      const rcFile = containerRcPath(root, rec.uid, name, cr.restartCount);
      if (!isContainerAlive(cr.pid, rcFile)) {
        const code = readExitStatus(rcFile) ?? 137;
        cr.terminated = { exitCode: code, reason: code === 0 ? "Completed" : "Error", startedAt: cr.startedAt, finishedAt: metaTime() };
        cr.pid = undefined;
        save(rec);
        continue;
      }
      alive++;
      if (rec.terminatingSince === undefined) {
        rec.terminatingSince = Date.now();
        save(rec);
      }
      if (Date.now() - rec.terminatingSince >= grace * 1000) {
        killContainer(cr.pid, rcFile);
      } else {
        if (signalContainer(cr.pid, rcFile, "SIGTERM") && pod) await ctl.recordEvent(pod, "Normal", "Killing", `Stopping container ${name}`);
      }
    }
    if (alive) return { requeueAfterMs: 300 };
    // Every process is gone: unmount.
    for (const vr of [...rec.volumes]) {
      const sharedStaging = vr.staging && [...records.values()].some((r) => r.uid !== rec.uid && r.volumes.some((x) => x.staging === vr.staging));
      await tearDownVolume(csi, vr, !sharedStaging);
      rec.volumes = rec.volumes.filter((x) => x !== vr);
      save(rec);
    }
    if (!deleting) {
      // A finished pod keeps its record (statuses, logs) until it is deleted.
      if (pod) await setUpStatusOnly(pod, rec);
      return;
    }
    for (const p of rec.createdPaths.reverse()) {
      await rmdir(p).catch(() => unlink(p).catch(() => undefined));
    }
    rmSync(podDir(root, rec.uid), { recursive: true, force: true });
    records.delete(rec.uid);
    for (const k of probes.keys()) if (k.startsWith(`${rec.uid}/`)) probes.delete(k);
    log.info({ pod: `${rec.namespace}/${rec.name}`, uid: rec.uid }, "pod torn down");
    if (pod) await finalDelete(pod);
  }

  async function setUpStatusOnly(pod: Pod & K, rec: PodRecord): Promise<void> {
    const policy = restartPolicyOf(pod);
    const runtimes = (pod.spec?.containers ?? []).map((s) => runtimeOf(s, rec.containers[s.name] ?? { restartCount: 0 }, undefined, policy, Date.now()));
    const status = podStatus({ pod, containers: runtimes, hostIP: o.hostIP, startTime: rec.startTime, now: metaTime() });
    if (statusDiffers(pod.status, status)) await pods.patchStatus(rec.name, { status }, { namespace: rec.namespace }).catch(() => undefined);
  }

  async function finalDelete(pod: Pod & K): Promise<void> {
    try {
      await c.transport.request({
        method: "DELETE",
        path: pods.path(pod.metadata?.namespace, pod.metadata?.name),
        body: { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
      });
    } catch (e) {
      if (!isNotFound(e) && !(e instanceof HwError && e.code === "ABORTED")) throw e;
    }
  }

  // ---- log endpoint and the Node's kubelet endpoint
  const logs: LogServer = await startLogServer({
    host: o.hostIP,
    port: o.logPort ?? 0,
    token: o.token,
    log,
    locate: (ns, name, container, previous) => {
      const pod = inf.pod.list().find((p) => p.metadata?.namespace === ns && p.metadata?.name === name);
      const rec = pod ? records.get(pod.metadata?.uid ?? "") : undefined;
      const cr = rec?.containers[container];
      if (!rec || !cr) return undefined;
      const n = previous ? cr.restartCount - 1 : cr.restartCount;
      if (n < 0) return { error: `previous terminated container "${container}" in pod "${name}" not found` };
      return {
        file: containerLogPath(root, rec.uid, container, n),
        running: () => !previous && cr.pid !== undefined && isContainerAlive(cr.pid, containerRcPath(root, rec.uid, container, n)),
      };
    },
  });
  await publishEndpoint(c, o.nodeName, o.hostIP, logs.port, log);
  // ---- plugin registration: the given sockets, or what registers in the plugin registry
  const registered = new Set<string>();
  const discover = async () => {
    const found = await discoverPlugins(
      o.registrationDir!,
      registered,
      async (info) => {
        const probe = new CsiClient(info.endpoint);
        try {
          await probe.nodeGetInfo({ timeoutMs: 10_000 });
        } finally {
          probe.close();
        }
        clients.get(info.name)?.close();
        clients.delete(info.name);
        stageCaps.delete(info.name);
        sockets[info.name] = info.endpoint;
        log.info({ driver: info.name, endpoint: info.endpoint }, "CSI plugin registered");
      },
      log,
    );
    for (const p of registered) if (!existsSync(p)) registered.delete(p); // gone: a new socket there registers again
    if (found.length) await registerPlugins(c, o.nodeName, csi, Object.keys(sockets), log);
  };
  let watcher: NodeJS.Timeout | undefined;
  if (o.registrationDir) {
    await discover();
    let busy = false;
    watcher = setInterval(() => {
      if (busy) return;
      busy = true;
      discover()
        .catch((e: unknown) => log.warn({ err: String(e) }, "plugin registration pass failed"))
        .finally(() => (busy = false));
    }, 5000);
  } else await registerPlugins(c, o.nodeName, csi, Object.keys(sockets), log);

  await ctl.start();
  for (const uid of records.keys()) ctl.enqueue(uid); // records of pods deleted while we were down
  log.info({ node: o.nodeName, root, logPort: logs.port, adopted: records.size }, "kubelet role started");
  return {
    logPort: logs.port,
    stop: async () => {
      clearInterval(watcher);
      await ctl.stop();
      await logs.stop();
      for (const cl of clients.values()) cl.close();
      // Containers keep running (as they outlive a kubelet restart); the next start re-adopts them.
    },
  };
}

/** The container's environment: exactly its env (values and fieldRefs), plus PATH and HOSTNAME. */
function containerEnv(pod: Pod, spec: Container, node: string, hostIP: string): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOSTNAME: pod.metadata?.name ?? "" };
  for (const e of spec.env ?? []) env[e.name] = envValue(pod, e, node, hostIP);
  return env;
}

/** runAsUser/runAsGroup of the container, else of the pod. */
const userOf = (pod: Pod, spec: Container) => ({
  uid: spec.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser,
  gid: spec.securityContext?.runAsGroup ?? pod.spec?.securityContext?.runAsGroup,
});

function envValue(pod: Pod, e: EnvVar, node: string, hostIP: string): string {
  if (e.value !== undefined) return e.value;
  const f = e.valueFrom?.fieldRef?.fieldPath;
  if (!e.valueFrom) return "";
  switch (f) {
    case "metadata.name":
      return pod.metadata?.name ?? "";
    case "metadata.namespace":
      return pod.metadata?.namespace ?? "";
    case "metadata.uid":
      return pod.metadata?.uid ?? "";
    case "spec.nodeName":
      return node;
    case "status.hostIP":
    case "status.podIP":
      return hostIP;
    default:
      throw new HwError(
        "INVALID_ARGUMENT",
        "UnsupportedEnv",
        `env ${e.name}: only value and fieldRef (metadata.name, metadata.namespace, metadata.uid, spec.nodeName, status.hostIP, status.podIP) are supported here`,
      );
  }
}

function statusDiffers(a: Pod["status"] | undefined, b: NonNullable<Pod["status"]>): boolean {
  const strip = (s: Pod["status"] | undefined) => JSON.stringify({ ...s, conditions: (s?.conditions ?? []).map((c) => ({ ...c, lastProbeTime: null })) });
  return strip(a) !== strip({ ...a, ...b });
}

/** Shims of this root that no record names as current: a crash between process start and record write. */
function sweepOrphanProcesses(root: string, records: Map<string, PodRecord>, log: Logger): void {
  const prefix = `${podsDir(root)}/`;
  const known = new Set<number>();
  for (const r of records.values()) for (const cr of Object.values(r.containers)) if (cr.pid !== undefined) known.add(cr.pid);
  for (const { pid, rcFile } of findContainerProcesses(prefix)) {
    if (known.has(pid) || !rcFile.endsWith(".rc")) continue;
    // <root>/pods/<uid>/logs/<container>/<n>.rc
    const [uid, , container, file] = rcFile.slice(prefix.length).split("/");
    const rec = uid ? records.get(uid) : undefined;
    const cr = rec && container ? rec.containers[container] : undefined;
    if (rec && cr && cr.pid === undefined && file === `${cr.restartCount}.rc`) {
      cr.pid = pid; // started, record not yet written: adopt
      log.info({ pod: `${rec.namespace}/${rec.name}`, container, pid }, "container re-adopted");
      continue;
    }
    log.warn({ pid, rcFile }, "stopping a container process no pod record names");
    killContainer(pid, rcFile);
  }
}

/**
 * The kubelet's plugin registration, as csi-node-driver-registrar + the kubelet do it: NodeGetInfo of each
 * driver → the Node's topology labels and the CSINode object (drivers: name, nodeID, topologyKeys).
 */
async function registerPlugins(client: KubeClient, node: string, csi: CsiNodeClients, drivers: string[], log: Logger): Promise<void> {
  const entries: Array<{ name: string; nodeID: string; topologyKeys: string[] }> = [];
  const labels: Record<string, string> = {};
  for (const d of drivers) {
    const cl = csi.client(d);
    if (!cl) continue;
    try {
      const info = await cl.nodeGetInfo({ timeoutMs: 10_000 });
      const segments = info.accessible_topology?.segments ?? {};
      Object.assign(labels, segments);
      entries.push({ name: d, nodeID: info.node_id ?? node, topologyKeys: Object.keys(segments).sort() });
    } catch (e) {
      log.warn({ driver: d, err: String(e) }, "driver not registered: NodeGetInfo failed");
    }
  }
  const nodes = client.forKind<CoreNode & K>(NODE);
  const n = await nodes.get(node);
  if (!n) return;
  if (Object.keys(labels).length) await nodes.patch(node, { metadata: { labels } });
  const csiNodes = client.forKind<K>(CSI_NODE);
  const body = {
    apiVersion: "storage.k8s.io/v1",
    kind: "CSINode",
    metadata: { name: node, ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node, uid: n.metadata?.uid ?? "" }] },
    spec: { drivers: entries },
  };
  const cur = await csiNodes.get(node);
  if (!cur) await csiNodes.create(body as K);
  else await csiNodes.patch(node, { spec: { drivers: entries } });
}

async function publishEndpoint(client: KubeClient, node: string, hostIP: string, port: number, log: Logger): Promise<void> {
  const nodes = client.forKind<CoreNode & K>(NODE);
  for (let i = 0; i < 30; i++) {
    const n = await nodes.get(node);
    if (n) {
      const addresses = [{ type: "InternalIP", address: hostIP }, ...(n.status?.addresses ?? []).filter((a) => a.type !== "InternalIP")];
      await nodes.patchStatus(node, { status: { addresses, daemonEndpoints: { kubeletEndpoint: { Port: port } } } });
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  log.warn({ node }, "no Node object to publish the kubelet endpoint on: kubectl logs will not reach this node");
}
