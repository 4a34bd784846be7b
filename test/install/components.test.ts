// Every component of the chart started with the exact command line and environment the chart gives its
// container, against the embedded API server, with an emulated in-cluster ServiceAccount mount: each process
// runs in its own mount namespace where /var/run/secrets/kubernetes.io/serviceaccount holds that
// ServiceAccount's token, the API server's CA and the namespace, and KUBERNETES_SERVICE_HOST/PORT point at
// the API server — so each finds its API server the in-cluster way (src/kube/config.ts), as in a pod.
// The API server maps each token to its ServiceAccount user and records every request; the test then checks
// the chart's RBAC allows every request each component made (test/install/rbac.ts).
// Paths a pod would have from hostPath volumes are values pointing into a scratch directory.
//
// Not here: a PVC-to-pod flow through these processes (it needs the kubelet and the pod roles of the embedded
// control plane wired to the chart's processes); the sidecars (upstream images, no engine to run them).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { startApiServer, type RequestAttributes, type RunningApiServer } from "../../src/apiserver/server.ts";
import { applyCrds } from "../../src/devcluster/bootstrap.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { MUTATING_WEBHOOK_CONFIGURATION, NAMESPACE, NODE } from "../../src/kube/resources.ts";
import type { KubeObject } from "../../src/kube/types.ts";
import { REPO, argvOf, containersOf, envOf, podSpecOf, render, type Container, type K8sObject } from "./helm.ts";
import { allowed, describe } from "./rbac.ts";

const NS = "hwameistor";
const NODE_NAME = "node-1";
const dir = mkdtempSync(join(tmpdir(), "hw-components-"));
const SECRETS = "/run/secrets"; // /var/run is /run on Debian
const createdSecretsDir = !existsSync(SECRETS);
const port = () => 20000 + Math.floor(Math.random() * 20000);
const values = [
  `global.kubeletRootDir=${dir}/kubelet`,
  `localStorage.hostPaths.stateDir=${dir}/state`,
  `localDiskManager.manager.devices=file:${dir}/disks/*.img`,
  `localStorage.member.config.engine=file`,
  `localStorageCSIController.socketDir=${dir}/csi`,
  `admission.port=${port()}`,
  `scheduler.extender.port=${port()}`,
  `exporter.port=${port()}`,
  `apiserver.port=${port()}`,
];
let objs: K8sObject[];
let api: RunningApiServer;
let admin: KubeClient;
const requests: RequestAttributes[] = [];
const tokens: Record<string, string> = {};
const procs = new Map<string, ChildProcess>();
const logs = new Map<string, string>();
const createdPaths: string[] = [];

before(async () => {
  if (createdSecretsDir) mkdirSync(SECRETS);
  objs = render({ namespace: NS, set: values });
  for (const sa of objs.filter((o) => o.kind === "ServiceAccount")) tokens[randomBytes(24).toString("hex")] = `system:serviceaccount:${NS}:${sa.metadata.name}`;
  api = await startApiServer({ dataDir: join(dir, "api"), port: 0, extraTokens: tokens }, { audit: (a) => requests.push(a) });
  admin = new KubeClient(loadKubeConfig({ kubeconfigPath: api.kubeconfigPath }).kubeConfig);
  await applyCrds(admin);
  if (!(await admin.forKind(NAMESPACE).get(NS)))
    await admin.forKind(NAMESPACE).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } } as KubeObject);
  // what a kubelet and `helm install` would have created before the pods run
  await admin
    .forKind(NODE)
    .create({ apiVersion: "v1", kind: "Node", metadata: { name: NODE_NAME, labels: { "kubernetes.io/hostname": NODE_NAME } } } as KubeObject);
  await admin.forKind(MUTATING_WEBHOOK_CONFIGURATION).create(objs.find((o) => o.kind === "MutatingWebhookConfiguration") as KubeObject);
  for (const d of ["kubelet/plugins_registry", "state", "disks", "csi"]) mkdirSync(join(dir, d), { recursive: true });
});

after(async () => {
  for (const p of procs.values()) if (p.exitCode === null) p.kill("SIGKILL");
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
  if (createdSecretsDir && existsSync(SECRETS)) rmdirSync(SECRETS);
  for (const d of createdPaths.reverse()) rmSync(d, { recursive: true, force: true });
});

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

/** Starts a chart container's command in its own mount namespace with the SA mount; resolves the ready line. */
function startContainer(key: string, workload: K8sObject, c: Container): Promise<Record<string, any>> {
  const fields = { "metadata.namespace": NS, "metadata.name": `${workload.metadata.name}-0`, "spec.nodeName": NODE_NAME };
  const env = envOf(c, fields, objs);
  const argv = argvOf(c, env);
  assert.equal(argv[0], "hwameistor");
  const url = new URL(api.url);
  const childEnv = {
    PATH: process.env.PATH!,
    HOME: dir,
    HWAMEISTOR_TSX: "1",
    ...env,
    KUBERNETES_SERVICE_HOST: url.hostname,
    KUBERNETES_SERVICE_PORT: url.port,
  };
  // emptyDir volumes: a fresh scratch directory bound at the mountPath, inside the container's namespace only
  // (a mountPath missing on the host is created empty and removed at the end, as the kubelet role does)
  const binds: string[] = [];
  for (const m of c.volumeMounts ?? []) {
    if (!podSpecOf(workload).volumes?.find((v: any) => v.name === m.name)?.emptyDir) continue;
    if (!existsSync(m.mountPath)) {
      mkdirSync(m.mountPath, { recursive: true });
      createdPaths.push(m.mountPath);
    }
    const src = mkdtempSync(join(dir, "emptydir-"));
    binds.push(src, m.mountPath);
  }
  const script =
    'mount -t tmpfs tmpfs "$1" && mkdir -p "$1/kubernetes.io/serviceaccount" && mount --bind "$2" "$1/kubernetes.io/serviceaccount" && n=$3 && shift 3 && ' +
    'while [ "$n" -gt 0 ]; do mount --bind "$1" "$2" && shift 2 && n=$((n-1)); done && exec "$@"';
  const p = spawn(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "--",
      "bash",
      "-c",
      script,
      "sa-mount",
      SECRETS,
      saDir(workload.spec.template.spec.serviceAccountName),
      String(binds.length / 2),
      ...binds,
      join(REPO, "bin/hwameistor"),
      ...argv.slice(1),
    ],
    { env: childEnv, stdio: ["ignore", "pipe", "pipe"], cwd: dir },
  );
  procs.set(key, p);
  logs.set(key, "");
  p.stderr!.on("data", (d) => logs.set(key, (logs.get(key)! + d).slice(-6000)));
  return new Promise((resolve, reject) => {
    createInterface({ input: p.stdout! }).once("line", (l) => resolve(JSON.parse(l)));
    p.once("exit", (code) => reject(new Error(`${key} exited ${code} before ready:\n${logs.get(key)}`)));
  });
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

test(
  "every component starts from the chart's command line as its ServiceAccount, in-cluster; the chart's RBAC allows every request it made",
  { timeout: 180_000 },
  async () => {
    const ready: Record<string, Record<string, any>> = {};
    for (const w of objs.filter((o) => o.kind === "Deployment" || o.kind === "DaemonSet")) {
      for (const c of containersOf(w)) {
        if (c.command?.[0] !== "hwameistor") continue;
        const key = `${w.metadata.name}/${c.name}`;
        ready[key] = await startContainer(key, w, c);
      }
    }
    assert.deepEqual(Object.keys(ready).sort(), [
      "hwameistor-admission/webhook",
      "hwameistor-apiserver/apiserver",
      "hwameistor-controller/controller",
      "hwameistor-exporter/exporter",
      "hwameistor-node/node",
      "hwameistor-operator/operator",
      "hwameistor-scheduler/extender",
    ]);
    // the in-cluster path was taken: the Lease holder is the pod name the chart passes
    // exercise the two HTTPS servers the way the API server and kube-scheduler would
    const pod = {
      metadata: { name: "app-0", namespace: "default" },
      spec: { containers: [{ name: "c" }], volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] },
    };
    const wh = await post(ready["hwameistor-admission/webhook"]!.port, "/mutate", {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "1", resource: { group: "", version: "v1", resource: "pods" }, namespace: "default", operation: "CREATE", object: pod },
    });
    assert.equal(wh.response.allowed, true);
    const ext = await post(ready["hwameistor-scheduler/extender"]!.port, "/filter", { pod, nodenames: [NODE_NAME] });
    assert.ok(ext.failedNodes, JSON.stringify(ext));
    // the exporter serves metrics; the REST API logs in with the credentials the chart's Secret gives it
    const metrics = await fetch(`http://127.0.0.1:${ready["hwameistor-exporter/exporter"]!.port}/metrics`).then((r) => r.text());
    assert.match(metrics, /^hwameistor_exporter_api_up 1$/m);
    const restUrl = ready["hwameistor-apiserver/apiserver"]!.url as string;
    const secret = objs.find((o) => o.kind === "Secret" && o.metadata.name === "hwameistor-apiserver-auth")!;
    const cred = Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
    const login = await post(Number(new URL(restUrl).port), "/apis/hwameistor.io/v1alpha1/cluster/auth/auth", cred);
    assert.ok(login.token, JSON.stringify(login));
    // let informers, leases and reconcilers make their first rounds
    await new Promise((r) => setTimeout(r, 8000));
    for (const [key, p] of procs) {
      assert.equal(p.exitCode, null, `${key} exited:\n${logs.get(key)}`);
      p.kill("SIGTERM");
    }
    await Promise.all([...procs.values()].map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once("exit", r)))));
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
  },
);
