// The admission webhook as the API server meets it: real HTTPS with the certificate it made for itself
// (verified against the CA it wrote into the MutatingWebhookConfiguration, by the Service's DNS name),
// AdmissionReview v1 bodies in Kubernetes' shape, decisions of fact sheet §4.2 over objects stored in the
// embedded API server.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { request } from "node:https";
import { after, before, test } from "node:test";
import { loadServer, TestServer } from "../../test/helpers/api-server.ts";
import { ObjectNames } from "../api/names.ts";
import { MUTATING_WEBHOOK_CONFIGURATION, NAMESPACE, PV, PVC, SECRET, STORAGE_CLASS } from "../kube/resources.ts";
import { silentLogger, type KubeObject } from "../kube/types.ts";
import { ensureCertificates } from "./certs.ts";
import { startWebhook, type RunningWebhook } from "./index.ts";
import { mutate, type VolumeLookup } from "./mutate.ts";

const NS = "hwameistor";
const SERVICE_HOST = `hwameistor-admission.${NS}.svc`;
let srv: TestServer;
let wh: RunningWebhook;
/** The webhook as the chart runs it, on a free loopback port, with the given failurePolicy. */
const webhookOptions = (failurePolicy: "Ignore" | "Fail") => ({
  client: srv.client,
  host: "127.0.0.1",
  port: 0,
  path: "/mutate",
  namespace: NS,
  service: "hwameistor-admission",
  webhookConfig: "hwameistor-admission-mutate",
  schedulerName: "hwameistor-scheduler",
  failurePolicy,
  log: silentLogger,
});

before(async () => {
  srv = await new TestServer((await loadServer())!).up();
  const c = srv.client;
  await c
    .forKind(NAMESPACE)
    .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } } as KubeObject)
    .catch(() => {});
  await c.forKind(MUTATING_WEBHOOK_CONFIGURATION).create({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: "hwameistor-admission-mutate" },
    webhooks: [
      {
        name: ObjectNames.MutatingWebhook,
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        clientConfig: { service: { name: "hwameistor-admission", namespace: NS, path: "/mutate" } },
      },
    ],
  } as KubeObject);
  const sc = (name: string, provisioner: string) => ({ apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name }, provisioner }) as KubeObject;
  await c.forKind(STORAGE_CLASS).create(sc("hwameistor-storage-lvm-hdd", "lvm.hwameistor.io"));
  await c.forKind(STORAGE_CLASS).create(sc("nfs", "example.com/nfs"));
  await c.forKind(STORAGE_CLASS).create(sc("hwameistor-storage-disk-hdd", "disk.hwameistor.io"));
  await c.forKind(PV).create({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "static-hostpath" },
    spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], hostPath: { path: "/srv/data" } },
  } as KubeObject);
  await c.forKind(PV).create({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "pvc-bound" },
    spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], csi: { driver: "lvm.hwameistor.io", volumeHandle: "pvc-bound" } },
  } as KubeObject);
  const pvc = (name: string, ns: string, spec: object, phase = "Pending") =>
    ({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name, namespace: ns },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, ...spec },
      status: { phase },
    }) as KubeObject;
  const pvcs = c.forKind(PVC);
  for (const p of [
    pvc("ours", "default", { storageClassName: "hwameistor-storage-lvm-hdd" }),
    pvc("bound", "default", { storageClassName: "whatever", volumeName: "pvc-bound" }, "Bound"),
    pvc("nfs", "default", { storageClassName: "nfs" }),
    pvc("noclass", "default", {}),
    pvc("disk", "default", { storageClassName: "hwameistor-storage-disk-hdd" }),
    // its class names our provisioner, but it is bound to a static non-CSI PV: the PV decides (not ours)
    pvc("static", "default", { storageClassName: "hwameistor-storage-lvm-hdd", volumeName: "static-hostpath" }, "Bound"),
    pvc("ours", "kube-system", { storageClassName: "hwameistor-storage-lvm-hdd" }),
  ]) {
    const created = await pvcs.create(p, p.metadata!.namespace);
    // status is not writable through create: set the phase the way the PV controller does
    if ((p as any).status.phase === "Bound")
      await pvcs.patchStatus(created.metadata!.name!, { status: { phase: "Bound" } }, { namespace: p.metadata!.namespace, type: "merge" });
  }
  wh = await startWebhook(webhookOptions("Ignore"));
});
after(async () => {
  await wh?.stop();
  await srv?.dispose();
});

/** The CA the API server would use: the caBundle of the MutatingWebhookConfiguration. */
async function caBundle(): Promise<string> {
  const mwc = (await srv.client.forKind(MUTATING_WEBHOOK_CONFIGURATION).get("hwameistor-admission-mutate")) as any;
  return Buffer.from(mwc.webhooks[0].clientConfig.caBundle, "base64").toString("utf8");
}

function post(path: string, body: string, contentType = "application/json", method = "POST"): Promise<{ status: number; body: any; cert: X509Certificate }> {
  return caBundle().then(
    (ca) =>
      new Promise((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: wh.port, path, method, ca, servername: SERVICE_HOST, headers: { "Content-Type": contentType } },
          (res) => {
            const cert = new X509Certificate((res.socket as any).getPeerCertificate(false).raw);
            let text = "";
            res.on("data", (d) => (text += d));
            res.on("end", () => {
              let parsed: any = text;
              try {
                parsed = JSON.parse(text);
              } catch {
                /* plain text */
              }
              resolve({ status: res.statusCode!, body: parsed, cert });
            });
          },
        );
        req.on("error", reject);
        req.end(body);
      }),
  );
}

/** An AdmissionReview v1 request as kube-apiserver sends it for a pod CREATE. */
function review(namespace: string, spec: object, uid = "705ab4f5-6393-11e8-b7cc-42010a800002") {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      namespace,
      operation: "CREATE",
      userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller", groups: ["system:serviceaccounts"] },
      object: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { generateName: "app-", namespace },
        spec: { containers: [{ name: "c", image: "busybox" }], ...spec },
      },
      oldObject: null,
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
    },
  });
}
const claim = (...names: string[]) => ({ volumes: names.map((n) => ({ name: n, persistentVolumeClaim: { claimName: n } })) });
const patchOf = (r: any) => (r.body.response.patch ? JSON.parse(Buffer.from(r.body.response.patch, "base64").toString("utf8")) : undefined);

test("serves HTTPS with a certificate for the Service name, signed by the CA in the caBundle and in the Secret", async () => {
  const r = await post("/healthz", "", "text/plain", "GET");
  assert.equal(r.status, 200);
  assert.equal(r.body, "ok");
  assert.equal(r.cert.checkHost(SERVICE_HOST), SERVICE_HOST);
  const secret = (await srv.client.forKind(SECRET).get(ObjectNames.AdmissionCaSecret, NS)) as any;
  assert.equal(Buffer.from(secret.data["ca.crt"], "base64").toString(), await caBundle());
  assert.ok(r.cert.verify(new X509Certificate(await caBundle()).publicKey));
});

test("pods with HwameiStor volumes get the scheduler (add / replace / unchanged); others are left alone", async () => {
  const cases: Array<[string, string, object, unknown]> = [
    [
      "pending PVC of an lvm.hwameistor.io class, no scheduler",
      "default",
      claim("ours"),
      [{ op: "add", path: "/spec/schedulerName", value: "hwameistor-scheduler" }],
    ],
    [
      "bound PVC whose PV is lvm.hwameistor.io, default-scheduler",
      "default",
      { ...claim("nfs", "bound"), schedulerName: "default-scheduler" },
      [{ op: "replace", path: "/spec/schedulerName", value: "hwameistor-scheduler" }],
    ],
    ["already hwameistor-scheduler", "default", { ...claim("ours"), schedulerName: "hwameistor-scheduler" }, undefined],
    ["pending PVC of a disk.hwameistor.io class", "default", claim("disk"), [{ op: "add", path: "/spec/schedulerName", value: "hwameistor-scheduler" }]],
    ["one of several PVCs is ours", "default", claim("nfs", "noclass", "ours"), [{ op: "add", path: "/spec/schedulerName", value: "hwameistor-scheduler" }]],
    ["bound to a static non-CSI PV (the class says ours, the PV does not)", "default", claim("static"), undefined],
    ["another provisioner's class", "default", claim("nfs"), undefined],
    ["a PVC without a class", "default", claim("noclass"), undefined],
    ["no volumes", "default", {}, undefined],
    ["an emptyDir only", "default", { volumes: [{ name: "tmp", emptyDir: {} }] }, undefined],
    ["kube-system is skipped (the original labels it hwameistor.io/webhook=ignore)", "kube-system", claim("ours"), undefined],
    ["the webhook's own namespace is skipped", NS, claim("ours"), undefined],
    ["a PVC that does not exist, failurePolicy Ignore: admitted unchanged", "default", claim("missing"), undefined],
  ];
  for (const [what, ns, spec, want] of cases) {
    const uid = `uid-${Math.random().toString(16).slice(2)}`;
    const r = await post("/mutate", review(ns, spec, uid));
    assert.equal(r.status, 200, what);
    assert.equal(r.body.apiVersion, "admission.k8s.io/v1");
    assert.equal(r.body.kind, "AdmissionReview");
    assert.equal(r.body.response.uid, uid, `${what}: response uid`);
    assert.equal(r.body.response.allowed, true, what);
    assert.deepEqual(patchOf(r), want, what);
    if (want) assert.equal(r.body.response.patchType, "JSONPatch");
  }
});

test("malformed or unexpected requests get a clear 4xx, never a crash", async () => {
  const cases: Array<[string, string, string, string, number, RegExp]> = [
    ["GET /mutate", "GET", "/mutate", "", 405, /only POST/],
    ["not JSON", "POST", "/mutate", "{", 400, /not JSON/],
    ["text/plain", "POST", "/mutate", review("default", {}), 400, /only application\/json/],
    [
      "a v1beta1 review",
      "POST",
      "/mutate",
      JSON.stringify({ apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request: { uid: "x" } }),
      400,
      /admission\.k8s\.io\/v1/,
    ],
    ["no request", "POST", "/mutate", JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }), 400, /no request/],
    ["unknown path", "POST", "/validate", review("default", {}), 404, /serves POST \/mutate/],
  ];
  for (const [what, method, path, body, status, msg] of cases) {
    const r = await post(path, body, what === "text/plain" ? "text/plain" : "application/json", method);
    assert.equal(r.status, status, what);
    assert.match(r.body.message, msg, what);
  }
  // a review for another resource, another operation or a subresource is allowed untouched
  for (const change of [
    { resource: { group: "", version: "v1", resource: "configmaps" } },
    { operation: "UPDATE" },
    { subResource: "ephemeralcontainers", operation: "UPDATE" },
  ]) {
    const other = JSON.parse(review("default", claim("ours")));
    Object.assign(other.request, change);
    const r = await post("/mutate", JSON.stringify(other));
    assert.equal(r.status, 200, JSON.stringify(change));
    assert.equal(r.body.response.allowed, true, JSON.stringify(change));
    assert.equal(r.body.response.patch, undefined, JSON.stringify(change));
  }
});

test("failurePolicy Fail over HTTPS: a pod whose PVC does not exist is denied with the reason in the Status", async () => {
  const strict = await startWebhook(webhookOptions("Fail"));
  const send = (body: string) =>
    new Promise<any>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: strict.port, path: "/mutate", method: "POST", rejectUnauthorized: false, headers: { "Content-Type": "application/json" } },
        (res) => {
          let t = "";
          res.on("data", (d) => (t += d));
          res.on("end", () => resolve(JSON.parse(t)));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  try {
    const r = await send(review("default", claim("missing"), "uid-fail"));
    assert.equal(r.response.uid, "uid-fail");
    assert.equal(r.response.allowed, false);
    assert.match(r.response.status.message, /PersistentVolumeClaim default\/missing not found/);
    // a pod without our volumes is never blocked, whatever the policy
    const free = await send(review("default", claim("nfs"), "uid-free"));
    assert.equal(free.response.allowed, true);
    assert.equal(free.response.patch, undefined);
  } finally {
    await strict.stop();
  }
});

test("failurePolicy Fail: a missing PVC or an unreachable API server denies; Ignore warns and admits", async () => {
  const pod = { containers: [{ name: "c" }], volumes: [{ name: "v", persistentVolumeClaim: { claimName: "x" } }] };
  const req = {
    uid: "u",
    resource: { group: "", version: "v1", resource: "pods" },
    namespace: "default",
    operation: "CREATE",
    object: { metadata: {}, spec: pod },
  };
  const missing: VolumeLookup = { pvc: async () => undefined, pv: async () => undefined, storageClass: async () => undefined };
  const down: VolumeLookup = {
    pvc: async () => {
      throw new Error("connect ECONNREFUSED");
    },
    pv: async () => undefined,
    storageClass: async () => undefined,
  };
  const o = { schedulerName: "hwameistor-scheduler", skipNamespaces: [] };
  const deny = await mutate(req, missing, { ...o, failurePolicy: "Fail" });
  assert.equal(deny.allowed, false);
  assert.match(deny.status!.message!, /PersistentVolumeClaim default\/x not found/);
  assert.equal((await mutate(req, missing, { ...o, failurePolicy: "Ignore" })).allowed, true);
  const denyDown = await mutate(req, down, { ...o, failurePolicy: "Fail" });
  assert.equal(denyDown.allowed, false);
  assert.match(denyDown.status!.message!, /ECONNREFUSED/);
  const warn = await mutate(req, down, { ...o, failurePolicy: "Ignore" });
  assert.equal(warn.allowed, true);
  assert.match(warn.warnings![0]!, /cannot tell whether PersistentVolumeClaim default\/x/);
});

test("certificates: idempotent, renewed before expiry without changing the CA (caBundle stays)", async () => {
  const opts = { namespace: NS, service: "hwameistor-admission", webhookConfig: "hwameistor-admission-mutate", log: silentLogger };
  const a = await ensureCertificates(srv.client, opts);
  const b = await ensureCertificates(srv.client, opts);
  assert.equal(a.serving.certPem, b.serving.certPem);
  const bundle = await caBundle();
  // a renewal window longer than the certificate's life: renewed now
  const c = await ensureCertificates(srv.client, { ...opts, renewBeforeMs: 400 * 24 * 3600_000 });
  assert.notEqual(c.serving.certPem, a.serving.certPem);
  assert.equal(c.ca.certPem, a.ca.certPem);
  assert.equal(await caBundle(), bundle);
  // concurrent replicas settle on one Secret
  const all = await Promise.all([1, 2, 3].map(() => ensureCertificates(srv.client, { ...opts, secret: "race-test" })));
  assert.equal(new Set(all.map((x) => x.serving.certPem)).size, 1);
});
