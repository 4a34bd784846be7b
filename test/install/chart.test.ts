// The Helm chart (deploy/helm/hwameistor) with the real helm: lint and render with the default values,
// values.extra.prod.yaml and a values file that sets every option; every rendered object validated against
// the Kubernetes OpenAPI schemas (kubernetes-models) or, for our kinds, against our CRD schemas; values the
// chart cannot honour fail the render naming the value; and the wiring between containers and our code.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { KindNamesTable, Drivers, GROUP, type Kind } from "../../src/api/names.ts";
import { pruneUnknownFields, validateObject } from "../../src/api/validate.ts";
import { DiskDriver, LvmDriver } from "../../src/csi/capabilities.ts";
import { parseCommandLine } from "../../src/cli/program.ts";
import { DISK_SOCKET_NAME } from "../../src/node/disk-volume/index.ts";
import { LVM_SOCKET_NAME } from "../../src/node/csi/lvm/index.ts";
import { DATAPLANE_BIN } from "../../src/devcluster/processes.ts";
import {
  CHART,
  EVERY_OPTION_VALUES,
  PROD_VALUES,
  REPO,
  argvOf,
  containerOf,
  containersOf,
  envOf,
  find,
  hostPathOf,
  lint,
  podSpecOf,
  render,
  renderError,
  type K8sObject,
} from "./helm.ts";

const VALUE_SETS: Array<[string, string[]]> = [
  ["defaults", []],
  ["values.extra.prod.yaml", [PROD_VALUES]],
  ["every option", [EVERY_OPTION_VALUES]],
];

test("helm lint --strict passes with the defaults, the production values and every option", () => {
  for (const [name, values] of VALUE_SETS) {
    const r = lint({ values });
    assert.ok(r.ok, `helm lint (${name}):\n${r.output}`);
  }
});

/** kubernetes-models class for apiVersion/kind. */
async function modelOf(apiVersion: string, kind: string): Promise<any> {
  const path = apiVersion.includes("/") ? apiVersion : `v1`;
  const mod = await import(`kubernetes-models/${path}`);
  const M = mod[kind];
  if (!M) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return M;
}

const kindsOfGroup = new Set(Object.values(KindNamesTable).map((k) => k.kind));

async function validateAll(objs: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objs) {
    const id = `${o.kind} ${o.metadata?.name}`;
    if (o.apiVersion?.startsWith(`${GROUP}/`)) {
      assert.ok(kindsOfGroup.has(o.kind as Kind), `${id}: not a kind of ${GROUP}`);
      const copy = structuredClone(o);
      const unknown = pruneUnknownFields(o.kind as Kind, copy);
      if (unknown.length) problems.push(`${id}: unknown fields ${unknown.join(", ")}`);
      for (const c of validateObject(o.kind as Kind, copy)) problems.push(`${id}: ${c.field}: ${c.message}`);
      continue;
    }
    const M = await modelOf(o.apiVersion, o.kind);
    try {
      new M(o).validate();
    } catch (e) {
      problems.push(`${id}: ${(e as Error).message}`);
    }
  }
  return problems;
}

test("every rendered object validates (Kubernetes OpenAPI via kubernetes-models; our kinds via the CRD schemas)", async () => {
  // the check can fail: a Deployment without selector/template, a Cluster with an unknown field
  assert.ok((await validateAll([{ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "three" } }])).length > 0);
  assert.match(
    (await validateAll([{ apiVersion: `${GROUP}/v1alpha1`, kind: "Cluster", metadata: { name: "x" }, spec: { bogus: 1 } }])).join(),
    /unknown fields/,
  );
  for (const [name, values] of VALUE_SETS) {
    const objs = render({ values });
    assert.ok(objs.length > 20, `${name}: only ${objs.length} objects`);
    assert.deepEqual(await validateAll(objs), [], name);
  }
  // the toggles off render too (and still validate)
  const off = render({
    set: [
      "scheduler.enabled=false",
      "admission.enabled=false",
      "operator.enabled=false",
      "storageClass.enabled=false",
      "localDiskManager.enableCSI=false",
      "rbac.create=false",
      "localStorageCSIController.snapshotController.enabled=false",
      "exporter.enabled=false",
      "apiserver.enabled=false",
      "ui.enabled=false",
    ],
  });
  assert.deepEqual(await validateAll(off), []);
  assert.ok(!off.some((o) => o.kind === "MutatingWebhookConfiguration" || o.kind === "StorageClass" || o.kind === "ClusterRole"));
  assert.ok(!off.some((o) => o.kind === "Deployment" && /exporter|apiserver/.test(o.metadata.name)));
  assert.ok(!off.some((o) => o.kind === "CSIDriver" && o.metadata.name === Drivers.Disk));
});

test("the chart's CRDs are deploy/crds, byte for byte", () => {
  const ours = readdirSync(join(REPO, "deploy/crds")).sort();
  assert.deepEqual(readdirSync(join(CHART, "crds")).sort(), ours, "run: npm run gen");
  for (const f of ours) assert.equal(readFileSync(join(CHART, "crds", f), "utf8"), readFileSync(join(REPO, "deploy/crds", f), "utf8"), f);
});

test("values the chart cannot honour fail the render, naming the value and the fix", () => {
  const cases: Array<[string[], RegExp]> = [
    [["storageClass.diskType=Floppy"], /storageClass\.diskType="Floppy" is not a disk class: use HDD, SSD or NVMe/],
    [["storageNodes[0].name=n1", "storageNodes[0].diskType=SAS"], /storageNodes\[0\]\.diskType="SAS" is not a disk class/],
    [["storageNodes[0].diskType=HDD"], /storageNodes\[0\]\.name is empty/],
    [["storageClass.enableHA=true"], /storageClass\.enableHA=true needs replication: set replicator\.enabled=true .* or set storageClass\.enableHA=false/],
    [["drbd.enabled=true"], /drbd\.enabled=true: DRBD replication is not built/],
    [["replicator.enabled=true", "replicator.port=70000"], /replicator\.port=70000 is not a port number/],
    [["replicator.enabled=true", "replicator.logLevel=loud"], /replicator\.logLevel="loud": use debug, info, warn or error/],
    [["auditor.enabled=false"], /auditor\.enabled=false: the auditor runs inside the controller/],
    [["apiserver.enabled=false"], /ui\.enabled=true with apiserver\.enabled=false: .* set ui\.enabled=false/],
    [["apiserver.auth.accessId="], /apiserver\.auth\.accessId is empty/],
    [["exporter.port=0"], /exporter\.port=0 is not a port number/],
    [["admission.failurePolicy=Maybe"], /admission\.failurePolicy="Maybe": use Ignore or Fail/],
    [["localStorage.member.config.engine=zfs"], /localStorage\.member\.config\.engine="zfs": use auto, lvm or file/],
    [["global.kubeletRootDir=var/lib/kubelet"], /global\.kubeletRootDir="var\/lib\/kubelet" must be an absolute path/],
    [["storageClass.reclaimPolicy=Recycle"], /storageClass\.reclaimPolicy="Recycle": use Retain or Delete/],
    [["scheduler.enabled=false"], /admission\.enabled=true with scheduler\.enabled=false/],
  ];
  for (const [set, want] of cases) assert.match(renderError({ set }), want, set.join(" "));
  assert.match(renderError({ namespace: "storage" }), /release namespace "storage": install into the namespace hwameistor/);
});

test("kubernetes versions: below 1.28 refused; kube-scheduler follows the cluster's minor", () => {
  assert.match(renderError({ kubeVersion: "1.27.9" }), /kubeVersion/);
  for (const v of ["1.28.3", "1.33.1"]) {
    const sched = find(render({ kubeVersion: v }), "Deployment", "hwameistor-scheduler");
    assert.match(containerOf(sched, "kube-scheduler").image, new RegExp(`kube-scheduler:v${v.split(".").slice(0, 2).join("\\.")}\\.0$`));
  }
});

test("CSIDriver objects agree with what the drivers advertise", () => {
  const objs = render();
  const lvm = find(objs, "CSIDriver", Drivers.Lvm).spec;
  const disk = find(objs, "CSIDriver", Drivers.Disk).spec;
  assert.equal(lvm.attachRequired, LvmDriver.controller.includes("PUBLISH_UNPUBLISH_VOLUME"));
  assert.equal(disk.attachRequired, DiskDriver.controller.includes("PUBLISH_UNPUBLISH_VOLUME"));
  assert.equal(lvm.attachRequired, true);
  assert.equal(disk.attachRequired, false);
  for (const d of [lvm, disk]) {
    assert.equal(d.podInfoOnMount, true);
    assert.deepEqual(d.volumeLifecycleModes, ["Persistent"]);
  }
});

const FIELDS = { "metadata.namespace": "hwameistor", "metadata.name": "pod-0", "spec.nodeName": "node-1", "status.podIP": "10.244.1.7" };

test("node DaemonSet: the agent's sockets are where the registrars and the livenessprobe look, under the kubelet root", () => {
  for (const [name, values] of VALUE_SETS) {
    const objs = render({ values });
    const ds = find(objs, "DaemonSet", "hwameistor-node");
    const values0 = parse(readFileSync(values[0] ?? join(CHART, "values.yaml"), "utf8"));
    const kubeletRoot = (values0.global?.kubeletRootDir ?? "/var/lib/kubelet").replace(/\/$/, "");
    const node = containerOf(ds, "node");
    const argv = argvOf(node, envOf(node, FIELDS));
    const socketDir = argv.find((a) => a.startsWith("--csi-socket-dir="))!.split("=")[1]!;
    assert.ok(socketDir.startsWith(`${kubeletRoot}/plugins/`), `${name}: ${socketDir}`);
    // the agent sees the kubelet root at the same path, with mounts propagating both ways
    const km = node.volumeMounts!.find((m) => m.mountPath === kubeletRoot)!;
    assert.equal(km.mountPropagation, "Bidirectional", name);
    assert.equal(hostPathOf(ds, node, kubeletRoot), kubeletRoot);
    assert.equal(podSpecOf(ds).volumes.find((v: any) => v.name === km.name).hostPath.type, "Directory");
    assert.equal(node.securityContext.privileged, true);
    for (const p of ["/dev", "/sys", "/run/udev", "/etc/lvm"])
      assert.ok(
        node.volumeMounts!.some((m) => m.mountPath === p),
        `${name}: ${p} not mounted`,
      );
    for (const [driver, sock] of [
      ["lvm", LVM_SOCKET_NAME],
      ["disk", DISK_SOCKET_NAME],
    ] as const) {
      const reg = containerOf(ds, `registrar-${driver}`);
      const ra = argvOf(reg, envOf(reg, FIELDS));
      const csiAddress = ra.find((a) => a.startsWith("--csi-address="))!.split("=")[1]!;
      const regPath = ra.find((a) => a.startsWith("--kubelet-registration-path="))!.split("=")[1]!;
      // the registrar's view of the socket: its mount of the agent's socket dir
      assert.equal(csiAddress, `/csi/${sock}`, name);
      assert.equal(hostPathOf(ds, reg, "/csi"), socketDir, `${name}: registrar /csi is not the agent's socket dir`);
      assert.equal(regPath, `${socketDir}/${sock}`, `${name}: the kubelet would dial another path`);
      assert.equal(hostPathOf(ds, reg, "/registration"), `${kubeletRoot}/plugins_registry`);
    }
    assert.ok(!argv.some((a) => a.startsWith("--plugin-registration-dir")), `${name}: the registrars register, not the agent`);
    const probe = containerOf(ds, "liveness-probe");
    assert.equal(hostPathOf(ds, probe, "/csi"), socketDir);
    const port = Number(probe.args!.find((a) => a.startsWith("--health-port="))!.split("=")[1]);
    assert.equal(node.ports!.find((p) => p.name === "healthz")!.containerPort, port);
  }
});

test("node DaemonSet with localStorage.registrar.builtIn: no registrar sidecars, the agent registers in plugins_registry", () => {
  const ds = find(render({ set: ["localStorage.registrar.builtIn=true"] }), "DaemonSet", "hwameistor-node");
  assert.deepEqual(
    containersOf(ds).map((c) => c.name),
    ["node", "liveness-probe"],
  );
  const node = containerOf(ds, "node");
  assert.ok(node.args!.includes("--plugin-registration-dir=/var/lib/kubelet/plugins_registry"));
  // the agent sees plugins_registry through its kubelet-root mount, at the host's path
  assert.equal(hostPathOf(ds, node, "/var/lib/kubelet"), "/var/lib/kubelet");
});

test("evictor and failoverAssistant run inside the controller; enabled=false turns each off there", () => {
  const args = (set: string[]) => containerOf(find(render({ set }), "Deployment", "hwameistor-controller"), "controller").args!;
  const on = args([]);
  assert.ok(!on.includes("--no-evictor") && !on.includes("--no-failover-assistant"), "both on by default");
  assert.ok(args(["evictor.enabled=false"]).includes("--no-evictor"));
  assert.ok(args(["failoverAssistant.enabled=false"]).includes("--no-failover-assistant"));
});

test("node DaemonSet with replicator.enabled: the data plane container beside the agent, on the socket the agent dials", () => {
  const off = find(render({}), "DaemonSet", "hwameistor-node");
  assert.ok(!containersOf(off).some((c) => c.name === "dataplane"), "no data plane by default");
  assert.ok(!containerOf(off, "node").args!.some((a) => a.startsWith("--dataplane-socket")));
  for (const [name, set] of [
    ["defaults", ["replicator.enabled=true", "storageClass.enableHA=true"]],
    ["every option", []],
  ] as const) {
    const objs = render({ set: [...set], values: name === "every option" ? [EVERY_OPTION_VALUES] : [] });
    const ds = find(objs, "DaemonSet", "hwameistor-node");
    const node = containerOf(ds, "node");
    const dp = containerOf(ds, "dataplane");
    assert.equal(dp.command![0], "hwameistor-dataplane");
    const argv = argvOf(dp, envOf(dp, FIELDS));
    const flag = (a: string[], f: string) => a.find((x) => x.startsWith(`--${f}=`))?.slice(f.length + 3);
    assert.equal(flag(argv, "node"), "node-1", name);
    // the agent dials the data plane's control socket; both see it through the same hostPath
    const sock = flag(argvOf(node, envOf(node, FIELDS)), "dataplane-socket")!;
    assert.equal(flag(argv, "control"), sock, name);
    const stateDir = flag(argvOf(node, envOf(node, FIELDS)), "state-dir")!;
    for (const c of [node, dp]) {
      const m = c.volumeMounts!.find((x) => x.mountPath === stateDir)!;
      // Bidirectional: the FUSE mount of the data plane container reaches the agent (its loop device) and the host
      assert.equal(m.mountPropagation, "Bidirectional", `${name}: ${c.name} ${stateDir}`);
      assert.equal(hostPathOf(ds, c, stateDir), stateDir);
    }
    for (const f of ["control", "state-dir", "fuse-dir"]) assert.ok(flag(argv, f)!.startsWith(`${stateDir}/`), `${name}: --${f} outside the state dir`);
    // peers reach it at the pod IP on the replication port
    const port = dp.ports!.find((p) => p.name === "replication")!.containerPort;
    assert.equal(flag(argv, "listen"), `10.244.1.7:${port}`, name);
    assert.equal(dp.securityContext.privileged, true);
    assert.ok(
      dp.volumeMounts!.some((m) => m.mountPath === "/dev" && hostPathOf(ds, dp, "/dev") === "/dev"),
      `${name}: /dev (fuse, the engine's devices)`,
    );
    assert.equal(find(objs, "StorageClass", `hwameistor-storage-lvm-${name === "defaults" ? "hdd" : "nvme"}`).parameters.replicaNumber, "2");
  }
});

test("the data plane container's command line uses only flags hwameistor-dataplane knows", { skip: !existsSync(DATAPLANE_BIN) && "make -C dataplane" }, () => {
  const known = new Set([...execFileSync(DATAPLANE_BIN, ["--help"], { encoding: "utf8" }).matchAll(/--([a-z-]+)/g)].map((m) => m[1]));
  for (const values of [[], [EVERY_OPTION_VALUES]]) {
    const dp = containerOf(find(render({ set: ["replicator.enabled=true"], values }), "DaemonSet", "hwameistor-node"), "dataplane");
    const argv = argvOf(dp, envOf(dp, FIELDS));
    assert.ok(!argv.some((a) => a.includes("$(")), `unexpanded: ${argv.join(" ")}`);
    for (const a of argv.slice(1)) assert.ok(known.has(a.replace(/^--/, "").split("=")[0]!), `hwameistor-dataplane has no option ${a}`);
  }
  // the check can fail
  assert.ok(!known.has("kubelet-dir"));
});

test("controller Deployment: every sidecar dials the socket the controller serves, with the original's flags", () => {
  for (const [name, values] of VALUE_SETS) {
    const dep = find(render({ values }), "Deployment", "hwameistor-controller");
    const ctl = containerOf(dep, "controller");
    const argv = argvOf(ctl, envOf(ctl, FIELDS));
    const dir = argv.find((a) => a.startsWith("--csi-socket-dir="))!.split("=")[1]!;
    const vol = ctl.volumeMounts!.find((m) => m.mountPath === dir)!;
    assert.ok(vol, `${name}: controller's socket dir is not a shared volume`);
    const sidecars: Array<[string, string]> = [
      ["csi-provisioner", LVM_SOCKET_NAME],
      ["csi-attacher", LVM_SOCKET_NAME],
      ["csi-resizer", LVM_SOCKET_NAME],
      ["csi-snapshotter", LVM_SOCKET_NAME],
      ["csi-provisioner-disk", DISK_SOCKET_NAME],
    ];
    for (const [c, sock] of sidecars) {
      const sc = containerOf(dep, c);
      const addr = sc.args!.find((a) => a.startsWith("--csi-address="))!.split("=")[1]!;
      const m = sc.volumeMounts!.find((x) => x.name === vol.name)!;
      assert.equal(addr, `${m.mountPath}/${sock}`, `${name}: ${c}`);
      assert.ok(sc.args!.includes("--leader-election"), `${name}: ${c} without leader election`);
    }
    for (const c of ["csi-provisioner", "csi-provisioner-disk"]) {
      const a = containerOf(dep, c).args!;
      for (const f of ["--feature-gates=Topology=true", "--extra-create-metadata", "--strict-topology"]) assert.ok(a.includes(f), `${c} lacks ${f}`);
    }
  }
});

test("every container that runs our binary has a command line it accepts (parsed as the binary does, not run)", async () => {
  const seen = new Set<string>();
  for (const [name, values] of VALUE_SETS) {
    const objs = render({ values });
    for (const o of objs) {
      if (!o.spec?.template?.spec) continue;
      for (const c of containersOf(o)) {
        if (c.command?.[0] !== "hwameistor") continue;
        // glibc malloc limited to 2 arenas in every hwameistor process (docs/benchmarks.md "Memory")
        assert.equal(envOf(c, FIELDS, objs).MALLOC_ARENA_MAX, "2", `${name}: ${o.metadata.name}/${c.name}: MALLOC_ARENA_MAX`);
        const argv = argvOf(c, envOf(c, FIELDS, objs));
        assert.ok(!argv.some((a) => a.includes("$(")), `${o.metadata.name}/${c.name}: unexpanded ${argv.join(" ")}`);
        seen.add(argv[1]!);
        let parsed;
        try {
          parsed = await parseCommandLine(argv.slice(1));
        } catch (e) {
          assert.fail(`${name}: ${o.metadata.name}/${c.name}: hwameistor ${argv.slice(1).join(" ")}: ${(e as Error).message}`);
        }
        assert.equal(
          parsed.command,
          argv
            .slice(1)
            .filter((a) => !a.startsWith("-"))
            .slice(0, parsed.command.split(" ").length)
            .join(" "),
        );
        assert.deepEqual(parsed.args, []);
      }
    }
  }
  assert.deepEqual([...seen].sort(), ["cluster", "controller", "exporter", "node", "rest", "scheduler-extender", "webhook"]);
  // the check can fail: an option the binary does not know is refused
  await assert.rejects(parseCommandLine(["node", "--node-name=n", "--kubelet-dir=/x"]), /unknown option '--kubelet-dir=\/x'/);
});

test("scheduler and webhook wiring: ports, names, failure policy", () => {
  for (const [name, values] of VALUE_SETS) {
    const objs = render({ values });
    const sched = find(objs, "Deployment", "hwameistor-scheduler");
    const cfg = parse(find(objs, "ConfigMap", "hwameistor-scheduler-config").data["scheduler-config.yaml"]);
    const ext = containerOf(sched, "extender");
    const port = ext.args!.find((a) => a.startsWith("--port="))!.split("=")[1];
    assert.equal(cfg.apiVersion, "kubescheduler.config.k8s.io/v1");
    assert.equal(cfg.extenders[0].urlPrefix, `https://127.0.0.1:${port}`, name);
    assert.equal(cfg.extenders[0].filterVerb, "filter");
    assert.equal(cfg.extenders[0].prioritizeVerb, "prioritize");
    assert.equal(cfg.extenders[0].bindVerb, undefined, "binding stays with kube-scheduler");
    const webhook = containerOf(find(objs, "Deployment", "hwameistor-admission"), "webhook");
    const schedulerName = webhook.args!.find((a) => a.startsWith("--scheduler-name="))!.split("=")[1];
    assert.equal(cfg.profiles[0].schedulerName, schedulerName, name);
    const svc = find(objs, "Service", "hwameistor-admission");
    const mwc = find(objs, "MutatingWebhookConfiguration", "hwameistor-admission-mutate");
    const env = envOf(webhook, FIELDS);
    assert.equal(String(svc.spec.ports[0].targetPort), webhook.args!.find((a) => a.startsWith("--port="))!.split("=")[1]);
    assert.equal(mwc.webhooks[0].clientConfig.service.name, svc.metadata.name);
    assert.equal(mwc.webhooks[0].clientConfig.service.name, env.WEBHOOK_SERVICE);
    assert.equal(mwc.webhooks[0].clientConfig.service.path, env.MUTATE_PATH);
    assert.equal(mwc.metadata.name, env.MUTATE_CONFIG);
    assert.equal(mwc.webhooks[0].failurePolicy, env.FAILURE_POLICY);
    assert.equal(mwc.webhooks[0].clientConfig.caBundle, undefined, "the webhook writes its own CA");
  }
});

test("helm uninstall keeps the data: CRDs from crds/ (never deleted by helm), the Cluster kept, claims are hooks", () => {
  const objs = render({ values: [EVERY_OPTION_VALUES] });
  assert.ok(objs.filter((o) => o.kind === "CustomResourceDefinition").length >= 20, "CRDs render from crds/ (helm installs them once and never deletes them)");
  assert.equal(find(objs, "Cluster", "my-cluster").metadata.annotations?.["helm.sh/resource-policy"], "keep");
  for (const o of objs.filter((x) => x.kind === "LocalDiskClaim")) assert.equal(o.metadata.annotations?.["helm.sh/hook"], "post-install");
  assert.deepEqual(
    objs.filter((x) => x.kind === "LocalDiskClaim").map((x) => x.metadata.name),
    ["node-1-ssd-claim", "node-2-nvme-claim"],
  );
});

test("exporter and REST API: Services reach the containers' ports, scrape annotations, credentials from the Secret", () => {
  for (const [name, values] of VALUE_SETS) {
    const objs = render({ values });
    const exp = find(objs, "Deployment", "hwameistor-exporter");
    const ec = containerOf(exp, "exporter");
    const eport = Number(ec.args!.find((a) => a.startsWith("--port="))!.split("=")[1]);
    assert.equal(ec.ports![0]!.containerPort, eport, name);
    assert.ok(ec.args!.includes("--host=0.0.0.0"), `${name}: the exporter listens beyond loopback`);
    const esvc = find(objs, "Service", "hwameistor-exporter");
    assert.equal(esvc.spec.ports[0].targetPort, ec.ports![0]!.name);
    for (const ann of [esvc.metadata.annotations!, exp.spec.template.metadata.annotations]) {
      assert.equal(ann["prometheus.io/scrape"], "true");
      assert.equal(ann["prometheus.io/port"], String(eport));
      assert.equal(ann["prometheus.io/path"], "/metrics");
    }
    assert.ok(!objs.some((o) => o.kind === "ServiceMonitor"), "no prometheus-operator dependency");
    const rest = find(objs, "Deployment", "hwameistor-apiserver");
    const rc = containerOf(rest, "apiserver");
    const rport = Number(rc.args!.find((a) => a.startsWith("--port="))!.split("=")[1]);
    assert.equal(rc.ports![0]!.containerPort, rport);
    assert.equal(find(objs, "Service", "hwameistor-apiserver").spec.ports[0].targetPort, "https");
    assert.ok(!rc.args!.includes("--no-auth"), `${name}: auth on`);
    const secret = find(objs, "Secret", "hwameistor-apiserver-auth");
    for (const key of ["AuthAccessId", "AuthSecretKey"]) {
      const ref = rc.env!.find((e) => e.name === key)!.valueFrom.secretKeyRef;
      assert.equal(ref.name, secret.metadata.name);
      assert.ok(Buffer.from(secret.data[ref.key], "base64").toString().length > 0, `${name}: ${key} empty`);
    }
    assert.equal(podSpecOf(rest).serviceAccountName, "hwameistor-apiserver");
    assert.equal(podSpecOf(exp).serviceAccountName, "hwameistor-exporter");
  }
  // a generated secretKey is random (kept across upgrades through lookup on a live cluster)
  const key = (o: K8sObject[]) => find(o, "Secret", "hwameistor-apiserver-auth").data.secretKey;
  assert.notEqual(key(render()), key(render()));
  assert.equal(Buffer.from(key(render({ set: ["apiserver.auth.secretKey=s3cret"] })), "base64").toString(), "s3cret");
  // auth off and no dashboard: the flags say so, and no Secret
  const off = render({ set: ["apiserver.auth.enableAuth=false", "ui.enabled=false"] });
  const args = containerOf(find(off, "Deployment", "hwameistor-apiserver"), "apiserver").args!;
  assert.ok(args.includes("--no-auth") && args.includes("--ui-dir="));
  assert.ok(!off.some((o) => o.kind === "Secret" && o.metadata.name === "hwameistor-apiserver-auth"));
});
