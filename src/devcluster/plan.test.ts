import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_OPTIONS } from "./options.ts";
import { clusterId, layoutOf, networkPlan, nodeLayout } from "./layout.ts";
import { isSameProcess, processSpecs } from "./processes.ts";
import { mountsToRemove, loopsOf, ourLoops } from "./disks.ts";
import type { LoopDevice } from "../host/loop/loop.ts";

test("process specs: order, flags of the node agents, netns only for nodes", () => {
  const specs = processSpecs("/s", { ...DEFAULT_OPTIONS, nodes: 2, netns: true }, { host: "10.209.1.1", port: 6443 }, "/repo/bin/hwameistor", "");
  assert.deepEqual(
    specs.map((s) => s.name),
    ["apiserver", "controller", "kube-controllers", "operator", "node-1", "node-2"],
  );
  assert.deepEqual(specs[0]!.argv, ["/repo/bin/hwameistor", "apiserver", "--data-dir", "/s/apiserver", "--host", "10.209.1.1", "--port", "6443"]);
  assert.deepEqual(specs[2]!.argv.slice(1), [
    "kube-controllers",
    "--kubeconfig",
    "/s/kubeconfig",
    "--csi-socket",
    "/s/controller/lvm.sock",
    "--csi-socket",
    "/s/controller/disk.sock",
  ]);
  assert.deepEqual(specs[4]!.argv.slice(1), [
    "node",
    "--node-name",
    "node-1",
    "--kubeconfig",
    "/s/kubeconfig",
    "--devices",
    "file:/s/nodes/node-1/disks/*.img",
    "--disk-class",
    "HDD",
    "--state-dir",
    "/s/nodes/node-1/state",
    "--csi-socket-dir",
    "/s/nodes/node-1",
    "--run-pods",
    "--kubelet-root",
    "/s/nodes/node-1/kubelet",
    "--storage-ip",
    specs[4]!.argv.at(-1)!,
  ]);
  assert.match(specs[4]!.argv.at(-1)!, /^10\.\d+\.\d+\.\d+$/, "a netns node announces its namespace address as storage IP");
  assert.equal(specs[0]!.netns, undefined);
  assert.match(specs[4]!.netns!, /^hwms-[0-9a-f]{4}-node-1$/);
  assert.equal(specs[4]!.logFile, "/s/logs/node-1.log");
});

test("with a data plane: one per node, before its agent, in its netns, on the storage IP; the agent gets its socket", () => {
  const specs = processSpecs("/s", { ...DEFAULT_OPTIONS, nodes: 2, netns: true }, { host: "10.209.1.1", port: 6443 }, "/repo/bin/hwameistor", "/dp");
  assert.deepEqual(specs.map((s) => s.name).slice(4), ["node-1-dataplane", "node-1", "node-2-dataplane", "node-2"]);
  const [dp, agent] = [specs[4]!, specs[5]!];
  const ip = agent.argv[agent.argv.indexOf("--storage-ip") + 1];
  assert.deepEqual(dp.argv, [
    "/dp",
    "--node",
    "node-1",
    "--control",
    "/s/nodes/node-1/dataplane.sock",
    "--state-dir",
    "/s/nodes/node-1/dataplane",
    "--listen",
    `${ip}:43000`,
    "--fuse-dir",
    "/s/nodes/node-1/fuse",
  ]);
  assert.equal(dp.netns, agent.netns);
  assert.equal(dp.role, "dataplane");
  assert.equal(agent.argv[agent.argv.indexOf("--dataplane-socket") + 1], "/s/nodes/node-1/dataplane.sock");
  // without netns the data planes share the host: the port `up` chose for each; a cluster.json from before that
  // keeps 43100 + i
  const listens = (api: Parameters<typeof processSpecs>[2]) =>
    processSpecs("/s", { ...DEFAULT_OPTIONS, nodes: 2 }, api, "/b", "/dp")
      .filter((s) => s.role === "dataplane")
      .map((s) => s.argv[s.argv.indexOf("--listen") + 1]);
  assert.deepEqual(listens({ host: "127.0.0.1", port: 6443, dataplanePorts: { "node-1": 21001, "node-2": 29876 } }), ["127.0.0.1:21001", "127.0.0.1:29876"]);
  assert.deepEqual(listens({ host: "127.0.0.1", port: 6443 }), ["127.0.0.1:43100", "127.0.0.1:43101"]);
});

test("a reused pid with another command line is not ours", () => {
  const [api] = processSpecs("/s", DEFAULT_OPTIONS, { host: "127.0.0.1", port: 1 }, "/repo/bin/hwameistor");
  assert.ok(isSameProcess(api!, ["node", "--import", "tsx", ...api!.argv]));
  assert.ok(!isSameProcess(api!, ["node", "--import", "tsx", ...api!.argv.slice(0, -1), "2"]));
  assert.ok(!isSameProcess(api!, ["sleep", "100"]));
});

test("network names fit interface limits and differ between state dirs", () => {
  const p = networkPlan("/work/.state/cluster", ["node-1", "node-32"]);
  for (const n of p.nodes) {
    assert.ok(n.hostIf.length <= 15 && n.nsIf.length <= 15, n.hostIf);
    assert.ok(n.ip.startsWith(p.hostIp.replace(/\.1$/, ".")));
  }
  assert.ok(p.bridge.length <= 15);
  assert.equal(p.nodes[1]!.ip.split(".")[3], "12");
  assert.notEqual(clusterId("/a"), clusterId("/b"));
});

test("layout", () => {
  const n = nodeLayout(layoutOf("/s"), "node-2", 2);
  assert.deepEqual(n.diskFiles, ["/s/nodes/node-2/disks/disk-1.img", "/s/nodes/node-2/disks/disk-2.img"]);
});

test("teardown picks mounts under the state dir or from its loops, deepest first", () => {
  const loop = (name: string, backFile: string) => ({ name, backFile }) as LoopDevice;
  const loops = loopsOf("/s", [
    loop("/dev/loop1", "/s/nodes/node-1/disks/disk-1.img"),
    loop("/dev/loop2", "/other/x.img"),
    loop("/dev/loop3", "/s/nodes/node-1/state/pools/p/v.img"),
  ]);
  assert.deepEqual(
    loops.map((l) => l.name),
    ["/dev/loop1", "/dev/loop3"],
  );
  const m = (target: string, source: string) => ({ target, source, fstype: "xfs", options: [], propagation: "" });
  const r = mountsToRemove(
    "/s",
    [
      m("/s/nodes/node-1/state/pools/p", "/dev/loop1"),
      m("/mnt/data1", "/dev/loop3"),
      m("/mnt/other", "/dev/loop2"),
      m("/srv", "/dev/vda"),
      m("/mnt/bind", "/dev/loop3[/sub]"),
    ],
    loops,
  );
  assert.deepEqual(
    r.map((x) => x.target),
    ["/s/nodes/node-1/state/pools/p", "/mnt/data1", "/mnt/bind"],
  );
});

test("teardown keeps track of a loop over a data plane's FUSE file after the FUSE mount is gone", () => {
  const loop = (name: string, backFile: string) => ({ name, backFile }) as LoopDevice;
  const known = loopsOf("/s", [loop("/dev/loop4", "/s/nodes/node-1/fuse/ha1"), loop("/dev/loop5", "/other/ha1")]);
  const after = [
    loop("/dev/loop4", "/ha1"), // the kernel's view once the FUSE mount is gone
    loop("/dev/loop5", "/ha1"), // someone else's, never listed as ours
    loop("/dev/loop6", "/ha1"), // a new loop reusing nothing of ours
    loop("/dev/loop7", "/s/nodes/node-2/disks/disk-1.img"),
  ];
  assert.deepEqual(
    ourLoops("/s", after, known).map((l) => l.name),
    ["/dev/loop4", "/dev/loop7"],
  );
});

test("hwameistor daemons run with at most 2 malloc arenas; the C data plane keeps glibc's default", () => {
  const specs = processSpecs("/s", { ...DEFAULT_OPTIONS, nodes: 1 }, { host: "127.0.0.1", port: 1 }, "/repo/bin/hwameistor", "/dp");
  for (const s of specs) assert.deepEqual(s.env, s.role === "dataplane" ? undefined : { MALLOC_ARENA_MAX: "2" }, s.name);
  assert.ok(specs.some((s) => s.role === "dataplane"));
});
