// Every component of the chart (the data plane container included: replicator.enabled) started with the
// exact command line and environment the chart gives its container, against the embedded API server, with an emulated in-cluster ServiceAccount mount: each process
// runs in its own mount namespace where /var/run/secrets/kubernetes.io/serviceaccount holds that
// ServiceAccount's token, the API server's CA and the namespace, and KUBERNETES_SERVICE_HOST/PORT point at
// the API server — so each finds its API server the in-cluster way (src/kube/config.ts), as in a pod.
// Paths a pod would have from hostPath volumes are values pointing into a scratch directory; emptyDir volumes
// are fresh scratch directories bound at their mountPath.
//
// Then a PVC-to-pod flow through those processes. What a cluster would add around them, and what plays it:
// - the CSI sidecars of the controller pod (csi-provisioner, -attacher, -resizer, -snapshotter) and
//   kube-controller-manager's PV controller: `hwameistor kube-controllers` (src/sidecars, src/kcm) over the
//   controller container's socket dir (the emptyDir the sidecars would share), as the cluster admin;
// - kube-scheduler: the embedded scheduler of the same process, which honours spec.schedulerName the way the
//   chart's kube-scheduler profile does (HwameiStor's filter and score for `hwameistor-scheduler`);
// - kube-apiserver's call of the MutatingWebhookConfiguration: the test sends the pod's AdmissionReview to the
//   chart's webhook over HTTPS and applies the JSONPatch it answers before creating the pod (the embedded API
//   server has no admission chain);
// - the kubelet: the chart's node container with `--run-pods --kubelet-root <kubeletRootDir>` added and its
//   own kubelet credentials (`--kubelet-kubeconfig`, user system:node:<node>) — it finds the drivers through
//   the plugin registration sockets the agent serves (`localStorage.registrar.builtIn=true`, no registrar
//   sidecars), the way a kubelet does;
// - `helm install` itself: the test creates the chart's Cluster, StorageClass and MutatingWebhookConfiguration
//   objects, and the Node a kubelet would register.
// The node container's mounts must reach the host as the chart's `Bidirectional` kubelet-root mount does: the
// scratch dir is made a shared mount and that container's namespace keeps the peer group.
// Finally the API server's record of every request is checked against the chart's RBAC
// (test/install/rbac.ts): each ServiceAccount may do all its component did, the flow included.
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { writeKubeconfig } from "../../src/apiserver/kubeconfig.ts";
import { applyPatch } from "../../src/apiserver/patch.ts";
import { startApiServer, type RequestAttributes, type RunningApiServer } from "../../src/apiserver/server.ts";
import { applyCrds } from "../../src/devcluster/bootstrap.ts";
import { DATAPLANE_BIN } from "../../src/devcluster/processes.ts";
import { DataplaneClient } from "../../src/host/dataplane/client.ts";
import { findContainerProcesses, killContainer } from "../../src/host/container/container.ts";
import { attachLoop, createSparseFile, detachLoop, listLoops } from "../../src/host/loop/loop.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { hwameistorClients } from "../../src/kube/hwameistor.ts";
import { CSI_NODE, MUTATING_WEBHOOK_CONFIGURATION, NAMESPACE, NODE, POD, PV, PVC, STORAGE_CLASS } from "../../src/kube/resources.ts";
import type { KubeObject } from "../../src/kube/types.ts";
import { cleanupUnder } from "../../src/node/engines/host-test-helpers.ts";
import { REPO, argvOf, containerOf, containersOf, envOf, podSpecOf, render, type Container, type K8sObject } from "./helm.ts";
import { allowed, describe } from "./rbac.ts";

const NS = "hwameistor";
const NODE_NAME = "node-1";
const dir = mkdtempSync(join(tmpdir(), "hw-components-"));
const SECRETS = "/run/secrets"; // /var/run is /run on Debian
const createdSecretsDir = !existsSync(SECRETS);
const port = () => 20000 + Math.floor(Math.random() * 20000);
const KUBELET_ROOT = `${dir}/kubelet`;
const values = [
  `global.kubeletRootDir=${KUBELET_ROOT}`,
  `localStorage.hostPaths.stateDir=${dir}/state`,
  `localDiskManager.manager.devices=file:${dir}/disks/*.img`,
  `localStorage.member.config.engine=file`,
  `localStorage.registrar.builtIn=true`,
  `storageClass.reclaimPolicy=Delete`,
  `localStorageCSIController.socketDir=${dir}/csi`,
  `admission.port=${port()}`,
  `scheduler.extender.port=${port()}`,
  `exporter.port=${port()}`,
  `apiserver.port=${port()}`,
  // the data plane container (replicated volumes) on a port no other test uses
  "replicator.enabled=true",
  `replicator.port=${port()}`,
];
let objs: K8sObject[];
let api: RunningApiServer;
let admin: KubeClient;
const requests: RequestAttributes[] = [];
const tokens: Record<string, string> = {};
const procs = new Map<string, ChildProcess>();
const logs = new Map<string, string>();
const createdPaths: string[] = [];
const ready: Record<string, Record<string, any>> = {};
let sharedMount = false;
/** Volumes the flow created: their replica loop devices are detached in `after` if the flow did not get to it. */
const ourVolumes = new Set<string>();

before(async () => {
  if (createdSecretsDir) mkdirSync(SECRETS);
  objs = render({ namespace: NS, set: values });
  for (const sa of objs.filter((o) => o.kind === "ServiceAccount")) tokens[randomBytes(24).toString("hex")] = `system:serviceaccount:${NS}:${sa.metadata.name}`;
  const kubeletToken = randomBytes(24).toString("hex");
  tokens[kubeletToken] = `system:node:${NODE_NAME}`;
  // the kubelet root's Bidirectional propagation: mounts the node container makes reach the host
  execFileSync("mount", ["--bind", dir, dir]);
  sharedMount = true;
  execFileSync("mount", ["--make-shared", dir]);
  api = await startApiServer({ dataDir: join(dir, "api"), port: 0, extraTokens: tokens }, { audit: (a) => requests.push(a) });
  writeKubeconfig(join(dir, "kubelet.kubeconfig"), api.url, kubeletToken, readFileSync(join(dir, "api", "tls.crt"), "utf8"));
  admin = new KubeClient(loadKubeConfig({ kubeconfigPath: api.kubeconfigPath }).kubeConfig);
  await applyCrds(admin);
  for (const ns of [NS, "default"])
    if (!(await admin.forKind(NAMESPACE).get(ns)))
      await admin.forKind(NAMESPACE).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubeObject);
  // what a kubelet and `helm install` would have created before the pods run
  await admin
    .forKind(NODE)
    .create({ apiVersion: "v1", kind: "Node", metadata: { name: NODE_NAME, labels: { "kubernetes.io/hostname": NODE_NAME } } } as KubeObject);
  await admin.forKind(MUTATING_WEBHOOK_CONFIGURATION).create(objs.find((o) => o.kind === "MutatingWebhookConfiguration") as KubeObject);
  await admin.forKind(STORAGE_CLASS).create(objs.find((o) => o.kind === "StorageClass") as KubeObject);
  await hwameistorClients(admin).hmcluster.create(objs.find((o) => o.kind === "Cluster") as never);
  for (const d of ["kubelet/plugins_registry", "state", "disks", "csi"]) mkdirSync(join(dir, d), { recursive: true });
  await createSparseFile(join(dir, "disks", "disk-1.img"), 3 * 2 ** 30);
  await attachLoop(join(dir, "disks", "disk-1.img"));
});

after(async () => {
  // every step runs even when an earlier one failed; the first failure is reported at the end
  const failures: unknown[] = [];
  const step = async (f: () => unknown) => {
    try {
      await f();
    } catch (e) {
      failures.push(e);
    }
  };
  // containers the kubelet role started (they outlive its process, as a kubelet's do)
  await step(() => {
    for (const c of findContainerProcesses(`${KUBELET_ROOT}/pods/`)) killContainer(c.pid, c.rcFile);
  });
  await step(async () => {
    for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await Promise.all([...procs.values()].map(exited));
  });
  await step(() => api?.close());
  // a replica loop attached in the node container's namespace shows its backing file relative to the pool
  // (/volumes/<pv>.img) once the pool is unmounted: detach ours by volume name
  await step(async () => {
    for (const l of await listLoops())
      if ([...ourVolumes].some((v) => l.backFile.endsWith(`/${v}.img`) || l.backFile.includes(`/${v}/`))) await detachLoop(l.name).catch(() => undefined);
  });
  await step(() => cleanupUnder(dir, join(dir, "state", "dev")).catch(() => undefined)); // pool and volume mounts, loop devices
  await step(() => sharedMount && execFileSync("umount", [dir]));
  await step(() => rmSync(dir, { recursive: true, force: true }));
  await step(() => createdSecretsDir && existsSync(SECRETS) && rmdirSync(SECRETS));
  await step(() => {
    for (const d of createdPaths.reverse()) rmSync(d, { recursive: true, force: true });
  });
  if (failures.length) throw failures[0];
});

const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once("exit", () => r())));

/** The commands the chart's containers run: ours, from the checkout. */
const BINARIES: Record<string, string> = { hwameistor: join(REPO, "bin/hwameistor"), "hwameistor-dataplane": DATAPLANE_BIN };

/** The data plane's `hello` on its control socket, once it answers. */
async function dataplaneHello(socket: string): Promise<Record<string, any>> {
  for (let i = 0; ; i++) {
    const c = new DataplaneClient(socket, { node: NODE_NAME, timeoutMs: 2_000 });
    try {
      return (await c.hello()) as unknown as Record<string, any>;
    } catch (e) {
      if (i >= 100) throw e;
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      c.close();
    }
  }
}

/**
 * Spawns a process under `key`; resolves its ready line (the first stdout line) as JSON, or what `ready`
 * resolves for a process that prints none.
 */
function startProcess(
  key: string,
  cmd: string,
  args: string[],
  env: Record<string, string>,
  ready?: () => Promise<Record<string, any>>,
): Promise<Record<string, any>> {
  const p = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  procs.set(key, p);
  logs.set(key, "");
  p.stderr!.on("data", (d) => logs.set(key, (logs.get(key)! + d).slice(-8000)));
  return new Promise((resolve, reject) => {
    if (ready) ready().then(resolve, reject);
    else createInterface({ input: p.stdout! }).once("line", (l) => resolve(JSON.parse(l)));
    p.once("exit", (code) => reject(new Error(`${key} exited ${code} before ready:\n${logs.get(key)}`)));
  });
}

/** The ServiceAccount mount of a pod: token, ca.crt, namespace. */
function saDir(sa: string): string {
  const d = join(dir, "sa", sa);
  mkdirSync(d, { recursive: true });
  const token = Object.entries(tokens).find(([, u]) => u.endsWith(`:${sa}`))![0];
  writeFileSync(join(d, "token"), token);
  writeFileSync(join(d, "namespace"), NS);
  writeFileSync(join(d, "ca.crt"), readFileSync(join(dir, "api", "tls.crt")));
  return d;
}

/**
 * Starts a chart container's command in its own mount namespace with the SA mount; resolves the ready line.
 * `kubelet`: the node container also plays the kubelet (see the header) and keeps the shared scratch mount.
 */
function startContainer(key: string, workload: K8sObject, c: Container, kubelet = false): Promise<Record<string, any>> {
  const fields = { "metadata.namespace": NS, "metadata.name": `${workload.metadata.name}-0`, "spec.nodeName": NODE_NAME, "status.podIP": "127.0.0.1" };
  const env = envOf(c, fields, objs);
  const argv = argvOf(c, env);
  const bin = BINARIES[argv[0]!];
  assert.ok(bin, `${key}: command ${argv[0]} is not one of ours`);
  const url = new URL(api.url);
  const childEnv = {
    PATH: process.env.PATH!,
    HOME: dir,
    HWAMEISTOR_TSX: "1",
    ...env,
    KUBERNETES_SERVICE_HOST: url.hostname,
    KUBERNETES_SERVICE_PORT: url.port,
  };
  // emptyDir volumes: a fresh scratch directory bound at the mountPath inside the container's namespace (a
  // mountPath missing on the host is created empty and removed at the end, as the kubelet role does); one
  // already in the scratch dir is the socket dir the controller pod's sidecars share: kube-controllers plays
  // those sidecars from outside, so it stays the host's directory
  const binds: string[] = [];
  for (const m of c.volumeMounts ?? []) {
    if (!podSpecOf(workload).volumes?.find((v: any) => v.name === m.name)?.emptyDir || m.mountPath.startsWith(dir + "/")) continue;
    if (!existsSync(m.mountPath)) {
      mkdirSync(m.mountPath, { recursive: true });
      createdPaths.push(m.mountPath);
    }
    binds.push(mkdtempSync(join(dir, "emptydir-")), m.mountPath);
  }
  const script =
    'mount -t tmpfs tmpfs "$1" && mkdir -p "$1/kubernetes.io/serviceaccount" && mount --bind "$2" "$1/kubernetes.io/serviceaccount" && n=$3 && shift 3 && ' +
    'while [ "$n" -gt 0 ]; do mount --bind "$1" "$2" && shift 2 && n=$((n-1)); done && exec "$@"';
  const extra = kubelet ? ["--run-pods", "--kubelet-root", KUBELET_ROOT, "--kubelet-kubeconfig", join(dir, "kubelet.kubeconfig")] : [];
  // a Bidirectional mount (the node pod's kubelet root and state dir) keeps the scratch dir's shared peer group
  const bidirectional = (c.volumeMounts ?? []).some((m) => m.mountPropagation === "Bidirectional");
  // the data plane prints no ready line: it is ready when its control socket answers hello
  const control = argv.find((a) => a.startsWith("--control="))?.slice("--control=".length);
  const ready = argv[0] === "hwameistor-dataplane" && control ? () => dataplaneHello(control) : undefined;
  return startProcess(
    key,
    "unshare",
    [
      "--mount",
      "--propagation",
      // / is private on the host: "unchanged" keeps only the scratch dir's shared peer group
      bidirectional ? "unchanged" : "private",
      "--",
      "bash",
      "-c",
      script,
      "sa-mount",
      SECRETS,
      saDir(workload.spec.template.spec.serviceAccountName),
      String(binds.length / 2),
      ...binds,
      bin,
      ...argv.slice(1),
      ...extra,
    ],
    childEnv,
    ready,
  );
}

const post = (port: number, path: string, body: unknown) =>
  new Promise<any>((resolve, reject) => {
    const r = request({ host: "127.0.0.1", port, path, method: "POST", rejectUnauthorized: false, headers: { "Content-Type": "application/json" } }, (res) => {
      let b = "";
      res.on("data", (d) => (b += d));
      res.on("end", () => resolve(JSON.parse(b)));
    });
    r.on("error", reject);
    r.end(JSON.stringify(body));
  });

async function waitFor<T>(what: string, get: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs `f`; on failure adds the tails of the processes' logs. */
const withLogs = (f: () => Promise<void>) => async () => {
  try {
    await f();
  } catch (e) {
    const tails = [...logs].map(([k, l]) => `--- ${k}:\n${l.slice(-2500)}`).join("\n");
    throw new Error(`${e instanceof Error ? e.stack : String(e)}\n${tails}`);
  }
};

test(
  "every component starts from the chart's command line as its ServiceAccount, in-cluster, and answers",
  { timeout: 180_000 },
  withLogs(async () => {
    for (const w of objs.filter((o) => o.kind === "Deployment" || o.kind === "DaemonSet")) {
      for (const c of containersOf(w)) {
        if (!BINARIES[c.command?.[0] ?? ""]) continue;
        const key = `${w.metadata.name}/${c.name}`;
        ready[key] = await startContainer(key, w, c, w.kind === "DaemonSet" && c.name === "node");
      }
    }
    assert.deepEqual(Object.keys(ready).sort(), [
      "hwameistor-admission/webhook",
      "hwameistor-apiserver/apiserver",
      "hwameistor-controller/controller",
      "hwameistor-exporter/exporter",
      "hwameistor-node/dataplane",
      "hwameistor-node/node",
      "hwameistor-operator/operator",
      "hwameistor-scheduler/extender",
    ]);
    // the data plane listens at the pod IP on the chart's port; its node agent reaches it over the socket the
    // chart gives both and reports replication available with that address
    const dpPort = containerOf(
      objs.find((o) => o.kind === "DaemonSet")!,
      "dataplane",
    ).ports!.find((p) => p.name === "replication")!.containerPort;
    assert.equal(ready["hwameistor-node/dataplane"]!.listen, `127.0.0.1:${dpPort}`);
    const replication = await waitFor(
      "node-1 reports replication available",
      async () =>
        ((await hwameistorClients(admin).lsn.get(NODE_NAME)) as any)?.status?.replication?.available
          ? ((await hwameistorClients(admin).lsn.get(NODE_NAME)) as any)
          : undefined,
      60_000,
    );
    assert.equal(replication.status.replication.address, `127.0.0.1:${dpPort}`);
    assert.deepEqual(replication.status.replication.frontends, ["fuse"]);
    // the node agent serves the kubelet's registration sockets itself (registrar.builtIn)
    assert.deepEqual([...(ready["hwameistor-node/node"]!.registrationSockets as string[])].sort(), [
      `${KUBELET_ROOT}/plugins_registry/disk.hwameistor.io-reg.sock`,
      `${KUBELET_ROOT}/plugins_registry/lvm.hwameistor.io-reg.sock`,
    ]);
    // the exporter serves metrics; the REST API logs in with the credentials the chart's Secret gives it
    const metrics = await fetch(`http://127.0.0.1:${ready["hwameistor-exporter/exporter"]!.port}/metrics`).then((r) => r.text());
    assert.match(metrics, /^hwameistor_exporter_api_up 1$/m);
    const restUrl = ready["hwameistor-apiserver/apiserver"]!.url as string;
    const secret = objs.find((o) => o.kind === "Secret" && o.metadata.name === "hwameistor-apiserver-auth")!;
    const cred = Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
    const login = await post(Number(new URL(restUrl).port), "/apis/hwameistor.io/v1alpha1/cluster/auth/auth", cred);
    assert.ok(login.token, JSON.stringify(login));
  }),
);

const POD_DATA = join(dir, "pod-data"); // the container's mountPath (created by the kubelet role, removed at teardown)
const appPod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "app-0", namespace: "default" },
  spec: {
    terminationGracePeriodSeconds: 5,
    containers: [
      {
        name: "app",
        image: "busybox",
        command: ["sh", "-c", 'echo written-by-the-pod > "$DATA/f" && exec sleep 600'],
        env: [{ name: "DATA", value: POD_DATA }],
        volumeMounts: [{ name: "data", mountPath: POD_DATA }],
      },
    ],
    volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
  },
};

test(
  "PVC → Bound → pod Running through the chart's processes (webhook, extender, controller, node agent as kubelet, operator)",
  { timeout: 300_000 },
  withLogs(async () => {
    const sc = objs.find((o) => o.kind === "StorageClass")!;
    const hw = hwameistorClients(admin);
    // the operator claims the node's disk, the agent makes the pool
    const pool = await waitFor(
      "a pool on node-1 (operator claim → node agent)",
      async () => Object.values(((await hw.lsn.get(NODE_NAME)) as any)?.status?.pools ?? {}).find((p: any) => p.totalCapacityBytes > 0) as any,
      150_000,
    );
    assert.equal(pool.class, sc.parameters.poolClass);
    // a pool on a node whose data plane container answers: the operator offers its convertible class
    await waitFor("the operator's convertible StorageClass", () => admin.forKind(STORAGE_CLASS).get(`${sc.metadata.name}-convertible`), 60_000);
    // the sidecars and kube-controller-manager's roles, over the controller container's sockets
    await startProcess(
      "kube-controllers",
      join(REPO, "bin/hwameistor"),
      ["kube-controllers", "--kubeconfig", api.kubeconfigPath, "--csi-socket", `${dir}/csi/lvm.sock`, "--csi-socket", `${dir}/csi/disk.sock`],
      { PATH: process.env.PATH!, HOME: dir, HWAMEISTOR_TSX: "1" },
    );
    await admin.forKind(PVC).create(
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "data", namespace: "default" },
        spec: { accessModes: ["ReadWriteOnce"], storageClassName: sc.metadata.name, resources: { requests: { storage: "200Mi" } } },
      } as KubeObject,
      "default",
    );
    // kube-apiserver's admission call, as the chart's MutatingWebhookConfiguration asks for it
    const mwc = objs.find((o) => o.kind === "MutatingWebhookConfiguration")!;
    assert.equal(mwc.webhooks[0].clientConfig.service.path, "/mutate");
    const review = await post(ready["hwameistor-admission/webhook"]!.port, "/mutate", {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "u-1", resource: { group: "", version: "v1", resource: "pods" }, namespace: "default", operation: "CREATE", object: appPod },
    });
    assert.equal(review.response.allowed, true);
    assert.equal(review.response.patchType, "JSONPatch");
    const pod = applyPatch("json", structuredClone(appPod), JSON.parse(Buffer.from(review.response.patch, "base64").toString()));
    assert.equal(pod.spec.schedulerName, "hwameistor-scheduler");
    // what kube-scheduler asks the chart's extender for this pod: node-1 fits
    const filter = await post(ready["hwameistor-scheduler/extender"]!.port, "/filter", { pod, nodenames: [NODE_NAME] });
    assert.deepEqual(filter.nodenames, [NODE_NAME], JSON.stringify(filter));
    await admin.forKind(POD).create(pod as KubeObject, "default");

    const running = await waitFor(
      "pod app-0 Running",
      async () => {
        const p = (await admin.forKind(POD).get("app-0", "default")) as any;
        return p?.status?.phase === "Running" ? p : undefined;
      },
      180_000,
    );
    assert.equal(running.spec.nodeName, NODE_NAME);
    const claim = (await admin.forKind(PVC).get("data", "default")) as any;
    assert.equal(claim.status.phase, "Bound");
    ourVolumes.add(claim.spec.volumeName);
    const pv = (await admin.forKind(PV).get(claim.spec.volumeName)) as any;
    assert.equal(pv.spec.csi.driver, "lvm.hwameistor.io");
    // the data the container wrote is on the published volume (visible on the host through the shared mount)
    const published = join(KUBELET_ROOT, "pods", running.metadata.uid, "volumes", "kubernetes.io~csi", pv.metadata.name, "mount", "f");
    assert.equal(await waitFor("the pod's file", async () => existsSync(published) && readFileSync(published, "utf8"), 30_000), "written-by-the-pod\n");
    // the kubelet role found the drivers through the agent's registration sockets
    const csiNode = (await admin.forKind(CSI_NODE).get(NODE_NAME)) as any;
    assert.deepEqual(csiNode.spec.drivers.map((d: any) => d.name).sort(), ["disk.hwameistor.io", "lvm.hwameistor.io"]);

    // deleting the pod stops the container and unpublishes the volume
    await admin.forKind(POD).delete("app-0", "default");
    await waitFor("pod app-0 gone", async () => !(await admin.forKind(POD).get("app-0", "default")), 60_000);
    assert.ok(!existsSync(published), "unpublished");
    // reclaimPolicy Delete (set in the values): the claim's deletion removes the PV and the volume on the node
    await admin.forKind(PVC).delete("data", "default");
    await waitFor("PV and LocalVolume deleted", async () => !(await admin.forKind(PV).get(pv.metadata.name)) && !(await hw.lv.get(pv.metadata.name)), 90_000);
  }),
);

test("every component stops cleanly; the chart's RBAC allows every request each ServiceAccount made", { timeout: 60_000 }, async () => {
  for (const [key, p] of procs) {
    assert.equal(p.exitCode, null, `${key} exited:\n${logs.get(key)}`);
    p.kill("SIGTERM");
  }
  await Promise.all([...procs.values()].map(exited));
  for (const [key, p] of procs) assert.equal(p.exitCode, 0, `${key} did not stop cleanly:\n${logs.get(key)}`);
  const byUser = new Map<string, Set<string>>();
  const denied: string[] = [];
  for (const q of requests) {
    if (!q.user.startsWith("system:serviceaccount:")) continue;
    const d = describe(q);
    if (!byUser.has(q.user)) byUser.set(q.user, new Set());
    if (byUser.get(q.user)!.has(d)) continue;
    byUser.get(q.user)!.add(d);
    if (!allowed(objs, q)) denied.push(`${q.user.split(":").pop()}: ${d}`);
  }
  assert.deepEqual(
    [...byUser.keys()].map((u) => u.split(":").pop()).sort(),
    [
      "hwameistor-admission",
      "hwameistor-apiserver",
      "hwameistor-controller",
      "hwameistor-exporter",
      "hwameistor-node",
      "hwameistor-operator",
      "hwameistor-scheduler",
    ],
    "every component used its own ServiceAccount",
  );
  assert.deepEqual(denied, [], "requests the chart's RBAC would refuse");
  // the kubelet role used its own credentials (a kubelet's), not the node agent's ServiceAccount
  assert.ok(requests.some((q) => q.user === `system:node:${NODE_NAME}` && q.resource === "pods" && q.subresource === "status"));
});
