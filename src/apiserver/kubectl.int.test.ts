// Acceptance against the machine's unmodified kubectl (1.32): the embedded API server must work with it.
// Tests drive the real kubectl (child processes are otherwise only spawned from src/host).
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "./testing/harness.ts";

const CRD_YAML = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.test.hwameistor.io
spec:
  group: test.hwameistor.io
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gd]}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      subresources: {status: {}}
      additionalPrinterColumns:
        - {name: Node, type: string, jsonPath: .spec.node}
        - {name: Capacity, type: integer, jsonPath: .spec.capacity}
        - {name: Zone, type: string, jsonPath: .spec.zone, priority: 1}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                node: {type: string}
                capacity: {type: integer, minimum: 0}
                zone: {type: string}
`;

const GADGET_YAML = `
apiVersion: test.hwameistor.io/v1alpha1
kind: Gadget
metadata: {name: g1, labels: {tier: gold}}
spec: {node: node-a, capacity: 10, zone: z1}
`;

const BUILTIN_KINDS_YAML = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox, command: [sh, -c, "sleep 1000"]}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}, storageClassName: sc1}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], csi: {driver: lvm.hwameistor.io, volumeHandle: v1}, storageClassName: sc1}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: sc1}
provisioner: lvm.hwameistor.io
volumeBindingMode: WaitForFirstConsumer
parameters: {poolClass: HDD}
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: lvm.hwameistor.io}
spec: {attachRequired: true}
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: va1}
spec: {attacher: lvm.hwameistor.io, nodeName: n1, source: {persistentVolumeName: pv1}}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: vsc1}
driver: lvm.hwameistor.io
deletionPolicy: Delete
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: s1}
spec: {volumeSnapshotClassName: vsc1, source: {persistentVolumeClaimName: data}}
---
apiVersion: v1
kind: Pod
metadata: {name: p1}
spec: {containers: [{name: c, image: x, command: [sh]}]}
`;

describe("kubectl against the embedded API server", () => {
  let s: TestServer;
  let env: NodeJS.ProcessEnv;
  // Async: the server runs in this process, so a synchronous exec would block it.
  const kubectl = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile("kubectl", args, { env, encoding: "utf8", timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) reject(Object.assign(new Error(`kubectl ${args.join(" ")}: ${stderr}`), { stderr }));
        else resolve(stdout);
      });
    });
  const kubectlFails = async (...args: string[]): Promise<string> => {
    try {
      await kubectl(...args);
    } catch (e: any) {
      return String(e.stderr);
    }
    throw new Error(`kubectl ${args.join(" ")} succeeded`);
  };

  before(async () => {
    s = await startTestServer();
    env = { ...process.env, KUBECONFIG: s.kubeconfigPath, HOME: s.dataDir };
    writeFileSync(join(s.dataDir, "crd.yaml"), CRD_YAML);
    writeFileSync(join(s.dataDir, "gadget.yaml"), GADGET_YAML);
  });
  after(async () => {
    await s.dispose();
  });

  it("lists namespaces and resources, shows the version", async () => {
    const out = await kubectl("get", "ns");
    assert.match(out, /^NAME\s+STATUS\s+AGE/);
    assert.match(out, /kube-system\s+Active/);
    assert.match(await kubectl("api-resources"), /storageclasses\s+sc\s+storage\.k8s\.io\/v1\s+false\s+StorageClass/);
    assert.match(await kubectl("version", "-o", "json"), /v1\.32\.0-hwameistor/);
  });

  it("creates with kubectl create (protobuf bodies) and deletes", async () => {
    assert.match(await kubectl("create", "ns", "team-a"), /namespace\/team-a created/);
    assert.match(await kubectl("create", "configmap", "c1", "-n", "team-a", "--from-literal=k=v"), /configmap\/c1 created/);
    assert.match(await kubectl("create", "secret", "generic", "s1", "-n", "team-a", "--from-literal=p=x"), /secret\/s1 created/);
    assert.equal(await kubectl("get", "secret", "s1", "-n", "team-a", "-o", "jsonpath={.type} {.data.p}"), "Opaque eA==");
    assert.match(await kubectlFails("create", "ns", "team-a"), /AlreadyExists/);
    assert.match(await kubectl("delete", "ns", "team-a"), /deleted/);
    assert.match(await kubectlFails("get", "ns", "team-a"), /NotFound/);
  });

  it("applies a CRD and serves its kind with printer columns, -o wide, selectors and patches", async () => {
    assert.match(await kubectl("apply", "-f", join(s.dataDir, "crd.yaml")), /created/);
    await kubectl("wait", "--for=condition=Established", "crd/gadgets.test.hwameistor.io", "--timeout=10s");
    assert.match(await kubectl("apply", "-f", join(s.dataDir, "gadget.yaml")), /gadget.test.hwameistor.io\/g1 created/);
    assert.match(await kubectl("apply", "-f", join(s.dataDir, "gadget.yaml")), /unchanged/);
    assert.match(await kubectl("apply", "--server-side", "-f", join(s.dataDir, "gadget.yaml")), /serverside-applied/);
    const table = await kubectl("get", "gadgets");
    assert.match(table, /^NAME\s+NODE\s+CAPACITY\s+AGE\n/);
    assert.match(table, /g1\s+node-a\s+10\s+\d+s/);
    assert.match(await kubectl("get", "gd", "-o", "wide"), /^NAME\s+NODE\s+CAPACITY\s+ZONE\s+AGE\n.*z1/);
    assert.match(await kubectl("get", "gadgets", "-l", "tier=gold", "-o", "name"), /gadget.test.hwameistor.io\/g1/);
    assert.match(await kubectl("get", "gadgets", "--field-selector", "metadata.name=nope"), /^$/);
    await kubectl("patch", "gadget", "g1", "--type", "merge", "-p", '{"spec":{"capacity":20}}');
    assert.equal(await kubectl("get", "gadget", "g1", "-o", "jsonpath={.spec.capacity} {.metadata.generation}"), "20 2");
    await kubectl("label", "gadget", "g1", "extra=yes");
    assert.equal(await kubectl("get", "gadget", "g1", "-o", "jsonpath={.metadata.labels.extra} {.metadata.generation}"), "yes 2");
    const invalid = await kubectlFails("patch", "gadget", "g1", "--type", "merge", "-p", '{"spec":{"capacity":-1}}');
    assert.match(invalid, /spec\.capacity/);
    writeFileSync(join(s.dataDir, "bad.yaml"), GADGET_YAML.replace("zone: z1", "zone: z1, bogus: 1"));
    assert.match(await kubectlFails("apply", "-f", join(s.dataDir, "bad.yaml")), /unknown field "spec.bogus"/);
  });

  it("streams kubectl get -w rows", async () => {
    const child = spawn("kubectl", ["get", "configmaps", "-n", "default", "-w"], { env });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    try {
      const waitFor = async (re: RegExp) => {
        const t0 = Date.now();
        while (!re.test(out)) {
          if (Date.now() - t0 > 10_000) throw new Error(`timed out waiting for ${re}; got:\n${out}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await new Promise((r) => setTimeout(r, 500));
      await kubectl("create", "configmap", "watched", "-n", "default", "--from-literal=a=b");
      await waitFor(/watched\s+1?\s*\d+s/);
      assert.match(out, /^NAME\s+/);
      assert.equal(out.match(/^NAME/gm)?.length, 1);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("deletes an object with a finalizer only after the finalizer is removed", async () => {
    await kubectl("create", "configmap", "held", "-n", "default");
    await kubectl("patch", "configmap", "held", "-n", "default", "--type", "merge", "-p", '{"metadata":{"finalizers":["test.hwameistor.io/hold"]}}');
    await kubectl("delete", "configmap", "held", "-n", "default", "--wait=false");
    assert.match(await kubectl("get", "configmap", "held", "-n", "default", "-o", "jsonpath={.metadata.deletionTimestamp}"), /^\d{4}-/);
    await kubectl("patch", "configmap", "held", "-n", "default", "--type", "json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]');
    assert.match(await kubectlFails("get", "configmap", "held", "-n", "default"), /NotFound/);
  });

  it("applies every built-in kind the storage roles use; an unserved kind gets kubectl's ordinary error", async () => {
    writeFileSync(join(s.dataDir, "kinds.yaml"), BUILTIN_KINDS_YAML);
    const first = await kubectl("apply", "-f", join(s.dataDir, "kinds.yaml"));
    for (const k of [
      "statefulset.apps/web",
      "persistentvolumeclaim/data",
      "persistentvolume/pv1",
      "storageclass.storage.k8s.io/sc1",
      "csidriver.storage.k8s.io/lvm.hwameistor.io",
      "volumeattachment.storage.k8s.io/va1",
      "volumesnapshotclass.snapshot.storage.k8s.io/vsc1",
      "volumesnapshot.snapshot.storage.k8s.io/s1",
      "pod/p1",
    ]) {
      assert.match(first, new RegExp(`${k.replace(/\./g, "\\.")} created`), first);
    }
    assert.doesNotMatch(await kubectl("apply", "-f", join(s.dataDir, "kinds.yaml")), /created|configured/);
    writeFileSync(
      join(s.dataDir, "deploy.yaml"),
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}}\n",
    );
    assert.match(await kubectlFails("apply", "-f", join(s.dataDir, "deploy.yaml")), /no matches for kind "Deployment" in version "apps\/v1"/);
    assert.match(await kubectl("scale", "sts", "web", "--replicas=3"), /scaled/);
    assert.match(await kubectl("get", "sts", "web"), /web\s+0\/3\s/);
    assert.match(await kubectlFails("logs", "p1"), /pod p1 does not have a host assigned/);
  });

  it("applies the project's CRDs", { skip: !existsSync("deploy/crds") && "deploy/crds not generated" }, async () => {
    await kubectl("apply", "-f", "deploy/crds/");
    const crds = (await kubectl("get", "crd", "-o", "name")).trim().split("\n");
    assert.ok(crds.filter((c) => c.endsWith(".hwameistor.io")).length >= 10, crds.join(","));
    assert.match(await kubectl("explain", "localvolumes.spec"), /FIELD: spec/);
  });
});
