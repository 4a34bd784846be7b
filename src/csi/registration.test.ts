// Plugin registration over real unix sockets: our registrar side serving the registration socket, our kubelet
// side dialing it, then dialing the CSI endpoint it names (a real CSI Identity/Node server) with NodeGetInfo —
// the sequence a kubelet runs for csi-node-driver-registrar's socket.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { csiPackage } from "./proto.ts";
import { discoverPlugins, registerPlugin, registrationSocket, serveRegistrations, startRegistrationServer, type PluginInfo } from "./registration.ts";
import { startCsiServer, type CsiServer } from "./server.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hw-reg-"));
const endpoint = path.join(dir, "lvm.sock");
let csi: CsiServer;

before(async () => {
  csi = await startCsiServer({
    socketPath: endpoint,
    driver: "lvm.hwameistor.io",
    identity: {
      GetPluginInfo: async () => ({ name: "lvm.hwameistor.io", vendor_version: "1.0" }),
      Probe: async () => ({}),
      GetPluginCapabilities: async () => ({ capabilities: [] }),
    },
    node: { NodeGetInfo: async () => ({ node_id: "node-1", accessible_topology: { segments: { "topology.lvm.hwameistor.io/node": "node-1" } } }) },
  } as any);
});
after(async () => {
  await csi?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The kubelet's register step for a CSI plugin: NodeGetInfo on the endpoint. */
async function nodeGetInfo(ep: string): Promise<string> {
  const Node = csiPackage().Node;
  const c = new Node(`unix://${ep}`, grpc.credentials.createInsecure(), { "grpc.default_authority": "localhost" });
  try {
    return await new Promise((res, rej) => (c as any).NodeGetInfo({}, (e: Error | null, r: { node_id: string }) => (e ? rej(e) : res(r.node_id))));
  } finally {
    c.close();
  }
}

test("a kubelet registers the driver from its registration socket and reports success back", async () => {
  const reg = await startRegistrationServer({ registrationDir: dir, driver: "lvm.hwameistor.io", endpoint });
  try {
    assert.equal(reg.socketPath, registrationSocket(dir, "lvm.hwameistor.io"));
    assert.ok(fs.lstatSync(reg.socketPath).isSocket());
    let nodeId = "";
    const info = await registerPlugin(reg.socketPath, async (i) => void (nodeId = await nodeGetInfo(i.endpoint)));
    assert.deepEqual(info, { type: "CSIPlugin", name: "lvm.hwameistor.io", endpoint, supported_versions: ["1.0.0"] });
    assert.equal(nodeId, "node-1");
    assert.deepEqual(reg.status(), { plugin_registered: true, error: "" });
  } finally {
    await reg.stop();
  }
  assert.ok(!fs.existsSync(registrationSocket(dir, "lvm.hwameistor.io")), "socket removed on stop");
});

test("a failed registration is reported to the plugin with the reason; unsupported versions are refused", async () => {
  const reg = await startRegistrationServer({ registrationDir: dir, driver: "disk.hwameistor.io", endpoint: path.join(dir, "missing.sock") });
  try {
    await assert.rejects(
      registerPlugin(reg.socketPath, async (i) => void (await nodeGetInfo(i.endpoint)), 3000),
      /registering disk\.hwameistor\.io at .*missing\.sock failed/,
    );
    assert.equal(reg.status()?.plugin_registered, false);
    assert.match(reg.status()!.error, /missing\.sock/);
  } finally {
    await reg.stop();
  }
  const old = await startRegistrationServer({ registrationDir: dir, driver: "old.example.com", endpoint, versions: ["0.3.0"] });
  try {
    await assert.rejects(
      registerPlugin(old.socketPath, async () => {}),
      /supports none of 1\.0\.0 \(it offers 0\.3\.0\)/,
    );
    assert.equal(old.status()?.plugin_registered, false);
  } finally {
    await old.stop();
  }
});

test("a stale registration socket is replaced; a non-socket file is refused", async () => {
  const first = await startRegistrationServer({ registrationDir: dir, driver: "x.example.com", endpoint });
  // simulate a crash: the socket file stays
  const sock = first.socketPath;
  await new Promise<void>((r) => setTimeout(r, 10));
  const second = await startRegistrationServer({ registrationDir: dir, driver: "x.example.com", endpoint }).catch((e) => e);
  assert.ok(!(second instanceof Error), String(second));
  await second.stop();
  await first.stop().catch(() => {});
  fs.writeFileSync(sock, "not a socket");
  await assert.rejects(startRegistrationServer({ registrationDir: dir, driver: "x.example.com", endpoint }), /exists and is not a socket/);
  fs.rmSync(sock);
});

test("serveRegistrations (the node agent's --plugin-registration-dir) + discoverPlugins (the kubelet's watcher): both drivers registered; a refusal is served afresh and registers on a later pass", async () => {
  const registry = fs.mkdtempSync(path.join(dir, "plugins_registry-"));
  const diskEndpoint = path.join(dir, "disk-missing.sock"); // no server there yet: the kubelet's NodeGetInfo fails
  const set = await serveRegistrations({
    registrationDir: registry,
    drivers: { "lvm.hwameistor.io": endpoint, "disk.hwameistor.io": diskEndpoint },
    // Long enough that the refused server is still the current one when the test reads its status (a loaded machine
    // can pause this process for tens of milliseconds between the kubelet's pass and the read).
    retryMs: 1500,
  });
  const known = new Set<string>();
  const registered: PluginInfo[] = [];
  const kubeletRegister = async (i: PluginInfo) => {
    await nodeGetInfo(i.endpoint);
    registered.push(i);
  };
  let disk: CsiServer | undefined;
  try {
    assert.deepEqual(fs.readdirSync(registry).sort(), ["disk.hwameistor.io-reg.sock", "lvm.hwameistor.io-reg.sock"]);
    fs.writeFileSync(path.join(registry, ".hidden"), ""); // not a socket, and dot-files are ignored
    const first = await discoverPlugins(registry, known, kubeletRegister);
    assert.deepEqual(
      first.map((i) => i.name),
      ["lvm.hwameistor.io"],
    );
    const diskReg = set.servers().get("disk.hwameistor.io")!;
    assert.equal(diskReg.status()?.plugin_registered, false, "the refusal was reported to the agent");
    // the agent serves a fresh socket after retryMs; once the driver answers, the next pass registers it
    disk = await startCsiServer({
      socketPath: diskEndpoint,
      driver: "disk.hwameistor.io",
      identity: {
        GetPluginInfo: async () => ({ name: "disk.hwameistor.io", vendor_version: "1.0" }),
        Probe: async () => ({}),
        GetPluginCapabilities: async () => ({ capabilities: [] }),
      },
      node: { NodeGetInfo: async () => ({ node_id: "node-1" }) },
    } as any);
    for (let i = 0; i < 400 && set.servers().get("disk.hwameistor.io") === diskReg; i++) await new Promise((r) => setTimeout(r, 20));
    assert.notEqual(set.servers().get("disk.hwameistor.io"), diskReg, "a fresh registration server");
    const second = await discoverPlugins(registry, known, kubeletRegister);
    assert.deepEqual(
      second.map((i) => i.name),
      ["disk.hwameistor.io"],
    );
    assert.deepEqual(set.servers().get("disk.hwameistor.io")!.status(), { plugin_registered: true, error: "" });
    assert.deepEqual((await discoverPlugins(registry, known, kubeletRegister)).length, 0, "registered once");
    assert.deepEqual(
      registered.map((i) => [i.name, i.endpoint]),
      [
        ["lvm.hwameistor.io", endpoint],
        ["disk.hwameistor.io", diskEndpoint],
      ],
    );
  } finally {
    await set.stop();
    await disk?.stop();
  }
  assert.deepEqual(fs.readdirSync(registry), [".hidden"], "sockets removed on stop");
  await assert.rejects(serveRegistrations({ registrationDir: path.join(dir, "nope"), drivers: {} }), /plugin registration directory .*nope does not exist/);
});
