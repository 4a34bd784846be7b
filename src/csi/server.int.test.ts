// The CSI framework over a real unix socket: identity, error mapping, validation, socket lifecycle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { HwError, notFound } from "../api/errors.ts";
import { Drivers, TopologyKeys } from "../api/names.ts";
import { DiskDriver } from "./capabilities.ts";
import { connectCsi, CsiClient } from "./client.ts";
import { identityService } from "./identity.ts";
import { redactSecrets, startCsiServer, toGrpcStatus } from "./server.ts";
import { accessTypeOf, bytesField, validatePath, validateVolumeId } from "./validate.ts";

test("toGrpcStatus: HwError keeps its code and hint, plain errors are INTERNAL without a stack", () => {
  const s = toGrpcStatus(new HwError("RESOURCE_EXHAUSTED", "NoDisk", "no disk fits", { hint: "add a disk" }));
  assert.deepEqual(s, { code: 8, details: "no disk fits (add a disk)" });
  const p = toGrpcStatus(new TypeError("x is undefined"));
  assert.equal(p.code, 13);
  assert.doesNotMatch(p.details, /at .*\.ts/);
});

test("secrets never reach the debug log", () => {
  assert.deepEqual(redactSecrets({ volume_id: "v", secrets: { key: "hunter2" } }), { volume_id: "v", secrets: { key: "***" } });
  assert.deepEqual(redactSecrets({ volume_id: "v", secrets: {} }), { volume_id: "v", secrets: {} });
});

test("validation helpers name the field and reject path-like ids", () => {
  assert.equal(validateVolumeId("pvc-1234-abcd"), "pvc-1234-abcd");
  for (const bad of ["", "../etc", "a/b", "A", "-a", "a..b", "x".repeat(254)]) {
    assert.throws(
      () => validateVolumeId(bad),
      (e: HwError) => e.code === "INVALID_ARGUMENT" && /volume_id/.test(e.message),
      bad,
    );
  }
  assert.throws(() => validatePath("relative/x", "target_path"), /target_path/);
  assert.throws(() => validatePath("/a/../b", "target_path"), /target_path/);
  assert.equal(validatePath("/var/lib/kubelet/pods/x/mount", "target_path"), "/var/lib/kubelet/pods/x/mount");
  assert.throws(() => accessTypeOf({}, "volume_capability"), /access_type/);
  assert.equal(accessTypeOf({ block: {} }, "c"), "block");
  assert.equal(bytesField("0", "f"), undefined);
  assert.equal(bytesField("1073741824", "f"), 1073741824);
  assert.throws(() => bytesField("-1", "f"), /f/);
});

test("a CSI server on a unix socket: identity, error codes, unimplemented, stale socket, cleanup", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "csi-fw-"));
  const sock = path.join(dir, "disk.sock");
  const srv = await startCsiServer({
    socketPath: sock,
    identity: identityService(DiskDriver),
    controller: {
      async CreateVolume(req: { name?: string }) {
        validateVolumeId(req.name, "name");
        throw new HwError("RESOURCE_EXHAUSTED", "NoDisk", "no Available SSD disk on node n1", { hint: "available: HDD 1 GiB" });
      },
      async DeleteVolume() {
        throw notFound("LocalDiskVolume pvc-x");
      },
      async ListVolumes() {
        throw new Error("boom");
      },
    },
  });
  const c = await connectCsi(sock);
  try {
    assert.equal((fs.statSync(sock).mode & 0o777).toString(8), "660");
    const info = await c.getPluginInfo();
    assert.equal(info.name, Drivers.Disk);
    assert.equal(info.vendor_version, "v1alpha1");
    const caps = await c.getPluginCapabilities();
    assert.deepEqual(
      caps.capabilities.map((x) => x.service?.type),
      ["CONTROLLER_SERVICE", "VOLUME_ACCESSIBILITY_CONSTRAINTS"],
    );
    assert.equal((await c.probe()).ready?.value, true);
    assert.equal(DiskDriver.topologyKey, TopologyKeys.DiskNode);

    await assert.rejects(c.createVolume({}), (e: HwError) => e.code === "INVALID_ARGUMENT" && /name is required/.test(e.message));
    // Our client rebuilds the server's HwError: same code, reason, message and hint (hence the same CLI exit code).
    await assert.rejects(
      c.createVolume({ name: "pvc-1" }),
      (e: HwError) =>
        e.code === "RESOURCE_EXHAUSTED" && e.reason === "NoDisk" && e.message === "no Available SSD disk on node n1" && e.hint === "available: HDD 1 GiB",
    );
    await assert.rejects(c.deleteVolume({ volume_id: "x" }), (e: HwError) => e.code === "NOT_FOUND" && e.reason === "NotFound");
    await assert.rejects(c.listVolumes(), (e: HwError) => e.code === "INTERNAL" && e.message === "internal error: boom");
    await assert.rejects(c.controllerGetVolume({ volume_id: "x" }), (e: HwError) => e.code === "UNIMPLEMENTED" && /ControllerGetVolume/.test(e.message));
    await assert.rejects(c.nodeGetInfo(), (e: HwError) => e.code === "UNIMPLEMENTED", "no Node service registered");
  } finally {
    c.close();
    await srv.stop();
  }
  assert.equal(fs.existsSync(sock), false, "socket removed on stop");

  // Something that is not a socket is never deleted.
  fs.writeFileSync(path.join(dir, "not-a-socket"), "x");
  await assert.rejects(startCsiServer({ socketPath: path.join(dir, "not-a-socket"), identity: {} }), /not a socket/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a stale socket file is removed before bind", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "csi-stale-"));
  const sock = path.join(dir, "x.sock");
  try {
    const first = await startCsiServer({ socketPath: sock, identity: identityService(DiskDriver) });
    // Simulate a crash: a process bound the socket and was SIGKILLed, leaving the file behind.
    await first.stop();
    const script = `require("net").createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, "SIGKILL"))`;
    spawnSync(process.execPath, ["-e", script]);
    assert.ok(fs.existsSync(sock), "stale socket file present");
    const second = await startCsiServer({ socketPath: sock, identity: identityService(DiskDriver) });
    const c = await connectCsi(sock);
    assert.equal((await c.getPluginInfo()).name, Drivers.Disk);
    c.close();
    await second.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a driver that is down: CsiUnavailable; once it listens again the same client reaches it within about a second", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "csi-down-"));
  const sock = path.join(dir, "disk.sock");
  const c = new CsiClient(sock);
  let srv: Awaited<ReturnType<typeof startCsiServer>> | undefined;
  try {
    // 5 s of failed calls: grpc's own reconnect backoff would have grown to ~4 s by then (and on to 120 s)
    const end = Date.now() + 5000;
    let failures = 0;
    while (Date.now() < end) {
      await assert.rejects(c.getPluginInfo({ timeoutMs: 500 }), (e: HwError) => e.code === "UNAVAILABLE" && e.reason === "CsiUnavailable");
      failures++;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(failures > 5);
    srv = await startCsiServer({ socketPath: sock, identity: identityService(DiskDriver) });
    const up = Date.now();
    for (;;) {
      const ok = await c.getPluginInfo({ timeoutMs: 500 }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      assert.ok(Date.now() - up < 2500, "the client reaches the driver within about a second of it listening");
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    c.close();
    await srv?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
