// The project's own CSI conformance tests (issue 15): the CSI spec's MUSTs for every RPC the two drivers
// serve, run against the real processes (test/conformance/cluster.ts) with the parameters a user's
// StorageClass carries. Written from the spec's comments (proto/csi.proto) and the cases
// kubernetes-csi/csi-test's sanity suite documents; no code of theirs.
//
// One suite, two drivers. Whether a section applies is decided by what the driver ADVERTISES: an
// advertised capability must work, an RPC behind a capability that is not advertised must answer
// UNIMPLEMENTED — so nothing is skipped; a missing feature is asserted absent.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { join } from "node:path";
import type { HwError } from "../../src/api/errors.ts";
import { Drivers, ScParams, TopologyKeys } from "../../src/api/names.ts";
import { connectCsi, type CsiClient } from "../../src/csi/client.ts";
import type { VolumeCapability } from "../../src/csi/types.ts";
import { findMountsAt } from "../../src/host/mount/mount.ts";
import { NODE, skipReason, startConformanceCluster, type ConformanceCluster } from "./cluster.ts";

const MiB = 2 ** 20;
const skip = skipReason ?? false;

interface Profile {
  driver: "lvm" | "disk";
  name: string;
  topologyKey: string;
  /** What the StorageClass the operator creates carries (external-provisioner passes them as they are). */
  params: Record<string, string>;
  /** A size every test volume can get. */
  bytes: number;
}

const PROFILES: Profile[] = [
  {
    driver: "lvm",
    name: Drivers.Lvm,
    topologyKey: TopologyKeys.LvmNode,
    params: {
      [ScParams.PoolClass]: "HDD",
      [ScParams.ReplicaNumber]: "1",
      [ScParams.PoolType]: "REGULAR",
      [ScParams.VolumeKind]: "LVM",
      [ScParams.Striped]: "true",
      [ScParams.Convertible]: "false",
    },
    bytes: 300 * MiB,
  },
  { driver: "disk", name: Drivers.Disk, topologyKey: TopologyKeys.DiskNode, params: { [ScParams.DiskType]: "HDD" }, bytes: 300 * MiB },
];

const SNW = { mode: "SINGLE_NODE_WRITER" as const };
const mountCap = (fs_type = "xfs"): VolumeCapability => ({ mount: { fs_type, mount_flags: [] }, access_mode: SNW });
const blockCap: VolumeCapability = { block: {}, access_mode: SNW };

/** Asserts the call fails with `code` (and, optionally, a message matching `re`). */
async function fails(p: Promise<unknown>, code: string, re?: RegExp): Promise<HwError> {
  let err: HwError | undefined;
  await assert.rejects(p, (e: HwError) => {
    err = e;
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (re) assert.match(e.fullMessage, re);
    return true;
  });
  return err!;
}

let cluster: ConformanceCluster | undefined;

before(async () => {
  if (!skip) cluster = await startConformanceCluster();
});
after(async () => {
  await cluster?.stop();
});

for (const p of PROFILES) {
  describe(`CSI conformance: ${p.name}`, { skip }, () => {
    let ctl!: CsiClient;
    let node!: CsiClient;
    let caps = new Set<string>();
    let nodeCaps = new Set<string>();
    const created = new Set<string>();
    let seq = 0;
    const unique = (what: string) => `Conf-${p.driver}-${what}-${++seq}`; // upper case on purpose: any string is a valid name

    const createReq = (name: string, o: Record<string, unknown> = {}) => ({
      name,
      capacity_range: { required_bytes: String(p.bytes) },
      volume_capabilities: [mountCap()],
      parameters: p.params,
      ...o,
    });
    async function create(name: string, o: Record<string, unknown> = {}) {
      const r = await ctl.createVolume(createReq(name, o) as never);
      created.add(r.volume.volume_id);
      return r.volume;
    }
    async function remove(id: string) {
      await ctl.deleteVolume({ volume_id: id });
      created.delete(id);
    }
    const target = (name: string) => join(cluster!.targetsDir, `${p.driver}-${name}`);

    /** ControllerPublish where advertised (returns its publish_context), else nothing. */
    async function controllerPublish(id: string, cap: VolumeCapability): Promise<Record<string, string> | undefined> {
      if (!caps.has("PUBLISH_UNPUBLISH_VOLUME")) return undefined;
      const r = (await ctl.controllerPublishVolume({ volume_id: id, node_id: NODE, volume_capability: cap, readonly: false })) as {
        publish_context?: Record<string, string>;
      };
      return r.publish_context ?? {};
    }

    before(async () => {
      ctl = await connectCsi(cluster!.sockets[p.driver].controller, { callTimeoutMs: 120_000 });
      node = await connectCsi(cluster!.sockets[p.driver].node, { callTimeoutMs: 120_000 });
      caps = new Set((await ctl.controllerGetCapabilities()).capabilities.map((c) => c.rpc?.type ?? ""));
      nodeCaps = new Set((await node.nodeGetCapabilities()).capabilities.map((c) => c.rpc?.type ?? ""));
    });
    after(async () => {
      for (const id of created) await ctl.deleteVolume({ volume_id: id }).catch(() => {});
      ctl?.close();
      node?.close();
    });

    test("identity: name, vendor version, controller service, probe; the node's id and topology", async () => {
      for (const c of [ctl, node]) {
        const info = await c.getPluginInfo();
        assert.equal(info.name, p.name);
        assert.ok(info.vendor_version, "vendor_version is required");
        assert.equal((await c.probe()).ready?.value, true);
      }
      const plugin = (await ctl.getPluginCapabilities()).capabilities.map((c) => c.service?.type);
      assert.ok(plugin.includes("CONTROLLER_SERVICE"));
      const ni = await node.nodeGetInfo();
      assert.equal(ni.node_id, NODE);
      assert.deepEqual(ni.accessible_topology?.segments, { [p.topologyKey]: NODE });
    });

    test("capabilities: what is not advertised answers UNIMPLEMENTED", async () => {
      const gated: Array<[string, string, string, object]> = [
        ["PUBLISH_UNPUBLISH_VOLUME", "Controller", "ControllerPublishVolume", { volume_id: "x", node_id: NODE, volume_capability: blockCap }],
        ["GET_CAPACITY", "Controller", "GetCapacity", {}],
        ["CREATE_DELETE_SNAPSHOT", "Controller", "CreateSnapshot", { name: "s", source_volume_id: "x" }],
        ["LIST_SNAPSHOTS", "Controller", "ListSnapshots", {}],
        ["EXPAND_VOLUME", "Controller", "ControllerExpandVolume", { volume_id: "x", capacity_range: { required_bytes: "1" } }],
      ];
      for (const [cap, svc, method, req] of gated) {
        if (caps.has(cap)) continue; // exercised below
        await fails(ctl.call(svc as never, method, req), "UNIMPLEMENTED");
      }
      if (!nodeCaps.has("STAGE_UNSTAGE_VOLUME")) {
        await fails(node.call("Node", "NodeStageVolume", { volume_id: "x", staging_target_path: "/tmp/x", volume_capability: blockCap }), "UNIMPLEMENTED");
      }
      if (!nodeCaps.has("EXPAND_VOLUME")) await fails(node.call("Node", "NodeExpandVolume", { volume_id: "x", volume_path: "/tmp/x" }), "UNIMPLEMENTED");
      assert.ok(caps.has("CREATE_DELETE_VOLUME") && nodeCaps.has("GET_VOLUME_STATS"));
    });

    test("CreateVolume: required fields, any string as name, optional parameters and capacity_range", async () => {
      await fails(ctl.createVolume(createReq("") as never), "INVALID_ARGUMENT", /name/);
      await fails(ctl.createVolume(createReq(unique("nocaps"), { volume_capabilities: [] }) as never), "INVALID_ARGUMENT", /volume_capabilities/);
      await fails(
        ctl.createVolume(createReq(unique("rwx"), { volume_capabilities: [{ mount: {}, access_mode: { mode: "MULTI_NODE_MULTI_WRITER" } }] }) as never),
        "INVALID_ARGUMENT",
        /access mode/,
      );
      // A name of 128 characters and one with characters no object name allows: the id is a valid object name.
      for (const name of ["a".repeat(128), unique("Name With/Odd:Chars")]) {
        const v = await create(name);
        assert.match(v.volume_id, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        assert.ok(v.volume_id.length <= 63);
        assert.ok(Number(v.capacity_bytes) >= p.bytes);
        await remove(v.volume_id);
      }
      // Parameters and capacity_range are optional: the defaults a StorageClass would carry.
      const bare = await create(unique("bare"), { parameters: undefined, capacity_range: undefined });
      assert.ok(Number(bare.capacity_bytes) > 0);
      assert.deepEqual(
        bare.accessible_topology?.map((t) => t.segments),
        [{ [p.topologyKey]: NODE }],
        "topology: the node it lives on",
      );
      await remove(bare.volume_id);
    });

    test("CreateVolume: idempotent by name; ALREADY_EXISTS when incompatible; volume context round trip", async () => {
      const name = unique("twice");
      const v1 = await create(name);
      const v2 = await create(name);
      assert.equal(v2.volume_id, v1.volume_id);
      assert.equal(v2.capacity_bytes, v1.capacity_bytes);
      await fails(ctl.createVolume(createReq(name, { capacity_range: { required_bytes: String(2 * Number(v1.capacity_bytes)) } }) as never), "ALREADY_EXISTS");
      // volume_context comes back unchanged from ValidateVolumeCapabilities (and is accepted by the node).
      const ctx = v1.volume_context ?? {};
      const ok = await ctl.validateVolumeCapabilities({ volume_id: v1.volume_id, volume_capabilities: [mountCap()], volume_context: ctx });
      assert.deepEqual(ok.confirmed?.volume_context ?? {}, ctx);
      assert.equal(ok.confirmed?.volume_capabilities?.length, 1);
      const no = await ctl.validateVolumeCapabilities({
        volume_id: v1.volume_id,
        volume_capabilities: [{ mount: {}, access_mode: { mode: "MULTI_NODE_MULTI_WRITER" } }],
      });
      assert.equal(no.confirmed, null);
      assert.ok(no.message);
      await fails(ctl.validateVolumeCapabilities({ volume_id: v1.volume_id, volume_capabilities: [] }), "INVALID_ARGUMENT");
      await fails(ctl.validateVolumeCapabilities({ volume_id: "", volume_capabilities: [mountCap()] }), "INVALID_ARGUMENT");
      await fails(ctl.validateVolumeCapabilities({ volume_id: "conf-unknown-volume", volume_capabilities: [mountCap()] }), "NOT_FOUND");
      await remove(v1.volume_id);
      await ctl.deleteVolume({ volume_id: v1.volume_id }); // again: OK
      await fails(ctl.controllerGetVolume({ volume_id: v1.volume_id }), "NOT_FOUND");
    });

    test("capacity ranges: required ≤ capacity ≤ limit; a filesystem's minimum; OUT_OF_RANGE", async () => {
      await fails(
        ctl.createVolume(createReq(unique("inverted"), { capacity_range: { required_bytes: String(400 * MiB), limit_bytes: String(350 * MiB) } }) as never),
        "INVALID_ARGUMENT",
      );
      // mkfs.xfs refuses under 300 MiB: a 256 MiB xfs volume is provisioned at the minimum ...
      const small = await create(unique("small"), { capacity_range: { required_bytes: String(256 * MiB) } });
      assert.ok(Number(small.capacity_bytes) >= 300 * MiB, `capacity ${small.capacity_bytes}`);
      await remove(small.volume_id);
      // ... unless limit_bytes forbids that: OUT_OF_RANGE at CreateVolume, never a late failure at publish.
      await fails(
        ctl.createVolume(createReq(unique("small-limit"), { capacity_range: { required_bytes: String(256 * MiB), limit_bytes: String(256 * MiB) } }) as never),
        "OUT_OF_RANGE",
        /300 MiB/,
      );
      const ranged = await create(unique("ranged"), { capacity_range: { required_bytes: String(300 * MiB), limit_bytes: String(600 * MiB) } });
      assert.ok(Number(ranged.capacity_bytes) >= 300 * MiB && Number(ranged.capacity_bytes) <= 600 * MiB, String(ranged.capacity_bytes));
      await remove(ranged.volume_id);
    });

    test("DeleteVolume, ControllerGetVolume, ListVolumes paging with starting_token", async () => {
      await fails(ctl.deleteVolume({ volume_id: "" }), "INVALID_ARGUMENT");
      await ctl.deleteVolume({ volume_id: "conf-never-existed" });
      await fails(ctl.controllerGetVolume({ volume_id: "conf-never-existed" }), "NOT_FOUND");
      await fails(ctl.listVolumes({ starting_token: "not-a-token" }), "ABORTED");
      const ids = [(await create(unique("list"))).volume_id, (await create(unique("list"))).volume_id];
      const got = await ctl.controllerGetVolume({ volume_id: ids[0]! });
      assert.equal(got.volume.volume_id, ids[0]);
      assert.ok(got.status?.volume_condition, "VOLUME_CONDITION is advertised: a condition is returned");
      // max_entries 1: every volume exactly once across pages.
      const seen: string[] = [];
      let token = "";
      for (let i = 0; i < 20; i++) {
        const page = await ctl.listVolumes({ max_entries: 1, starting_token: token });
        assert.ok(page.entries.length <= 1);
        seen.push(...page.entries.map((e) => e.volume.volume_id));
        token = page.next_token ?? "";
        if (!token) break;
      }
      for (const id of ids) assert.equal(seen.filter((x) => x === id).length, 1, id);
      for (const id of ids) await remove(id);
      const after = (await ctl.listVolumes({})).entries.map((e) => e.volume.volume_id);
      for (const id of ids) assert.ok(!after.includes(id), "a deleted volume is not listed");
    });

    test("publish and stage path rules, NodeGetVolumeStats, unpublish removes the target", async () => {
      const name = unique("pub");
      const v = await create(name);
      const id = v.volume_id;
      const cap = mountCap();
      const publishContext = await controllerPublish(id, cap);
      const t = target("pub");
      const pub = (o: Record<string, unknown> = {}) =>
        node.nodePublishVolume({
          volume_id: id,
          target_path: t,
          volume_capability: cap,
          volume_context: v.volume_context,
          publish_context: publishContext,
          readonly: false,
          ...o,
        } as never);
      await fails(pub({ volume_id: "" }), "INVALID_ARGUMENT");
      await fails(pub({ target_path: "" }), "INVALID_ARGUMENT");
      await fails(pub({ target_path: "relative/target" }), "INVALID_ARGUMENT");
      await fails(pub({ volume_capability: null }), "INVALID_ARGUMENT");
      await pub(); // the target does not exist yet: the plugin creates it (CSI 1.x)
      await pub(); // again, same arguments: OK
      assert.ok((await findMountsAt(t)).length > 0, "mounted");
      fs.writeFileSync(join(t, "probe"), "conformance");

      await fails(node.nodeGetVolumeStats({ volume_id: "", volume_path: t }), "INVALID_ARGUMENT");
      await fails(node.nodeGetVolumeStats({ volume_id: id, volume_path: "" }), "INVALID_ARGUMENT");
      await fails(node.nodeGetVolumeStats({ volume_id: "conf-unknown-volume", volume_path: t }), "NOT_FOUND");
      await fails(node.nodeGetVolumeStats({ volume_id: id, volume_path: "some/path" }), "NOT_FOUND");
      await fails(node.nodeGetVolumeStats({ volume_id: id, volume_path: join(cluster!.targetsDir, "nowhere") }), "NOT_FOUND");
      const stats = await node.nodeGetVolumeStats({ volume_id: id, volume_path: t });
      const bytes = stats.usage.find((u) => u.unit === "BYTES");
      assert.ok(bytes && Number(bytes.total) > 0 && Number(bytes.used) > 0);
      assert.equal(stats.volume_condition?.abnormal, false, stats.volume_condition?.message);

      if (nodeCaps.has("EXPAND_VOLUME")) {
        await fails(node.call("Node", "NodeExpandVolume", { volume_id: "", volume_path: t }), "INVALID_ARGUMENT");
        await fails(node.call("Node", "NodeExpandVolume", { volume_id: id }), "INVALID_ARGUMENT");
        await fails(node.call("Node", "NodeExpandVolume", { volume_id: "conf-unknown-volume", volume_path: "some/path" }), "NOT_FOUND");
      }

      await fails(node.nodeUnpublishVolume({ volume_id: "", target_path: t }), "INVALID_ARGUMENT");
      await fails(node.nodeUnpublishVolume({ volume_id: id, target_path: "" }), "INVALID_ARGUMENT");
      await node.nodeUnpublishVolume({ volume_id: id, target_path: t });
      assert.equal(fs.existsSync(t), false, "the target path is removed");
      await node.nodeUnpublishVolume({ volume_id: id, target_path: t }); // again: OK
      // The data is still there on the next publish.
      await pub();
      assert.equal(fs.readFileSync(join(t, "probe"), "utf8"), "conformance");
      await node.nodeUnpublishVolume({ volume_id: id, target_path: t });
      if (caps.has("PUBLISH_UNPUBLISH_VOLUME")) await ctl.controllerUnpublishVolume({ volume_id: id, node_id: NODE });
      await remove(id);
      // The same name again after a delete is a new, empty volume: it publishes (and is formatted) again.
      const again = await create(name);
      assert.equal(again.volume_id, id);
      const ctx2 = await controllerPublish(id, cap);
      await node.nodePublishVolume({ volume_id: id, target_path: t, volume_capability: cap, publish_context: ctx2, readonly: false } as never);
      assert.equal(fs.existsSync(join(t, "probe")), false, "nothing of the deleted volume");
      await node.nodeUnpublishVolume({ volume_id: id, target_path: t });
      if (caps.has("PUBLISH_UNPUBLISH_VOLUME")) await ctl.controllerUnpublishVolume({ volume_id: id, node_id: NODE });
      await remove(id);
    });

    test("a raw block volume is handed out as a device file", async () => {
      const v = await create(unique("blk"), { volume_capabilities: [blockCap] });
      const ctx = await controllerPublish(v.volume_id, blockCap);
      const t = target("blk");
      await node.nodePublishVolume({ volume_id: v.volume_id, target_path: t, volume_capability: blockCap, publish_context: ctx, readonly: false } as never);
      assert.ok(fs.statSync(t).isBlockDevice(), "the target is the device");
      const stats = await node.nodeGetVolumeStats({ volume_id: v.volume_id, volume_path: t });
      assert.ok(Number(stats.usage.find((u) => u.unit === "BYTES")?.total) >= p.bytes);
      await node.nodeUnpublishVolume({ volume_id: v.volume_id, target_path: t });
      assert.equal(fs.existsSync(t), false);
      if (caps.has("PUBLISH_UNPUBLISH_VOLUME")) await ctl.controllerUnpublishVolume({ volume_id: v.volume_id, node_id: NODE });
      await remove(v.volume_id);
    });

    if (p.driver === "lvm") {
      test("ControllerPublish/Unpublish: required fields, NOT_FOUND for volume and node, idempotent", async () => {
        const v = await create(unique("cpub"));
        const req = { volume_id: v.volume_id, node_id: NODE, volume_capability: mountCap(), readonly: false };
        await fails(ctl.controllerPublishVolume({ ...req, volume_id: "" }), "INVALID_ARGUMENT");
        await fails(ctl.controllerPublishVolume({ ...req, node_id: "" }), "INVALID_ARGUMENT");
        await fails(ctl.controllerPublishVolume({ ...req, volume_capability: null } as never), "INVALID_ARGUMENT");
        await fails(ctl.controllerPublishVolume({ ...req, volume_id: "conf-unknown-volume" }), "NOT_FOUND");
        await fails(ctl.controllerPublishVolume({ ...req, node_id: "conf-no-such-node" }), "NOT_FOUND");
        const a = await ctl.controllerPublishVolume(req);
        const b = await ctl.controllerPublishVolume(req);
        assert.deepEqual(b, a, "publishing again with the same arguments answers the same");
        await fails(ctl.controllerUnpublishVolume({ volume_id: "", node_id: NODE }), "INVALID_ARGUMENT");
        await ctl.controllerUnpublishVolume({ volume_id: v.volume_id, node_id: NODE });
        await ctl.controllerUnpublishVolume({ volume_id: v.volume_id, node_id: NODE });
        await ctl.controllerUnpublishVolume({ volume_id: "conf-unknown-volume", node_id: NODE });
        await remove(v.volume_id);
      });

      test("GetCapacity with and without parameters; more than one replica is refused, naming the parameter", async () => {
        const all = await ctl.getCapacity({});
        assert.ok(Number(all.available_capacity) > 0);
        const hdd = await ctl.getCapacity({ parameters: p.params, accessible_topology: { segments: { [p.topologyKey]: NODE } } });
        assert.ok(Number(hdd.available_capacity) > 0, "the node's HDD pool has room"); // (free space moves as deletes settle)
        await fails(ctl.getCapacity({ parameters: { [ScParams.PoolClass]: "Tape" } }), "INVALID_ARGUMENT", /poolClass/);
        const e = await fails(
          ctl.createVolume(createReq(unique("ha"), { parameters: { ...p.params, [ScParams.ReplicaNumber]: "2" } }) as never),
          "INVALID_ARGUMENT",
          /replicaNumber "2" .*need 2 nodes that replicate/,
        );
        assert.equal(e.reason, "ReplicationNotAvailable");
      });

      test("snapshots: create idempotently, ALREADY_EXISTS for another source, list by id and by source with paging, restore and clone", async () => {
        const src = await create(unique("snapsrc"));
        const other = await create(unique("snapother"));
        await fails(ctl.call("Controller", "CreateSnapshot", { source_volume_id: src.volume_id }), "INVALID_ARGUMENT");
        await fails(ctl.call("Controller", "CreateSnapshot", { name: "s" }), "INVALID_ARGUMENT");
        await fails(ctl.call("Controller", "CreateSnapshot", { name: unique("snap-nosrc"), source_volume_id: "conf-unknown-volume" }), "NOT_FOUND");
        type Snap = { snapshot: { snapshot_id: string; source_volume_id: string; ready_to_use: boolean; size_bytes: string } };
        const sname = unique("Snapshot").padEnd(128, "x"); // a 128-character name with upper case
        const s1 = (await ctl.call<Snap>("Controller", "CreateSnapshot", { name: sname, source_volume_id: src.volume_id })).snapshot;
        assert.equal(s1.source_volume_id, src.volume_id);
        assert.ok(s1.ready_to_use);
        const again = (await ctl.call<Snap>("Controller", "CreateSnapshot", { name: sname, source_volume_id: src.volume_id })).snapshot;
        assert.equal(again.snapshot_id, s1.snapshot_id);
        await fails(ctl.call("Controller", "CreateSnapshot", { name: sname, source_volume_id: other.volume_id }), "ALREADY_EXISTS");
        const s2 = (await ctl.call<Snap>("Controller", "CreateSnapshot", { name: unique("snap2"), source_volume_id: src.volume_id })).snapshot;
        const s3 = (await ctl.call<Snap>("Controller", "CreateSnapshot", { name: unique("snap3"), source_volume_id: other.volume_id })).snapshot;

        type List = { entries: Snap[]; next_token: string };
        const ids = (l: List) => l.entries.map((e) => e.snapshot.snapshot_id).sort();
        assert.deepEqual(ids(await ctl.call<List>("Controller", "ListSnapshots", { snapshot_id: s1.snapshot_id })), [s1.snapshot_id]);
        assert.deepEqual(ids(await ctl.call<List>("Controller", "ListSnapshots", { snapshot_id: "conf-no-such-snapshot" })), []);
        assert.deepEqual(
          ids(await ctl.call<List>("Controller", "ListSnapshots", { source_volume_id: src.volume_id })),
          [s1.snapshot_id, s2.snapshot_id].sort(),
        );
        assert.deepEqual(ids(await ctl.call<List>("Controller", "ListSnapshots", { source_volume_id: "conf-unknown-volume" })), []);
        const pages: string[] = [];
        let token = "";
        for (let i = 0; i < 10; i++) {
          const l = await ctl.call<List>("Controller", "ListSnapshots", { max_entries: 2, starting_token: token });
          assert.ok(l.entries.length <= 2);
          pages.push(...ids(l));
          token = l.next_token;
          if (!token) break;
        }
        assert.deepEqual(pages.filter((x) => [s1, s2, s3].some((s) => s.snapshot_id === x)).sort(), [s1, s2, s3].map((s) => s.snapshot_id).sort());
        await fails(ctl.call("Controller", "ListSnapshots", { starting_token: "not-a-token" }), "ABORTED");

        // Restore and clone; unknown sources are NOT_FOUND.
        await fails(
          ctl.createVolume(createReq(unique("from-nosnap"), { volume_content_source: { snapshot: { snapshot_id: "conf-no-such-snapshot" } } }) as never),
          "NOT_FOUND",
        );
        await fails(
          ctl.createVolume(createReq(unique("from-novol"), { volume_content_source: { volume: { volume_id: "conf-unknown-volume" } } }) as never),
          "NOT_FOUND",
        );
        const restored = await create(unique("restored"), { volume_content_source: { snapshot: { snapshot_id: s2.snapshot_id } } });
        const cloned = await create(unique("cloned"), { volume_content_source: { volume: { volume_id: other.volume_id } } });
        for (const id of [restored.volume_id, cloned.volume_id]) await remove(id);

        await fails(ctl.call("Controller", "DeleteSnapshot", {}), "INVALID_ARGUMENT");
        await ctl.call("Controller", "DeleteSnapshot", { snapshot_id: "conf-no-such-snapshot" });
        for (const s of [s1, s2, s3]) await ctl.call("Controller", "DeleteSnapshot", { snapshot_id: s.snapshot_id });
        await ctl.call("Controller", "DeleteSnapshot", { snapshot_id: s1.snapshot_id }); // again: OK
        assert.deepEqual(ids(await ctl.call<List>("Controller", "ListSnapshots", { source_volume_id: src.volume_id })), []);
        for (const v of [src, other]) await remove(v.volume_id);
      });

      test("ControllerExpandVolume: required fields, NOT_FOUND, growth", async () => {
        await fails(ctl.call("Controller", "ControllerExpandVolume", { capacity_range: { required_bytes: String(400 * MiB) } }), "INVALID_ARGUMENT");
        await fails(
          ctl.call("Controller", "ControllerExpandVolume", { volume_id: "conf-unknown-volume", capacity_range: { required_bytes: String(400 * MiB) } }),
          "NOT_FOUND",
        );
        const v = await create(unique("grow"));
        await fails(ctl.call("Controller", "ControllerExpandVolume", { volume_id: v.volume_id }), "INVALID_ARGUMENT");
        const r = await ctl.call<{ capacity_bytes: string; node_expansion_required: boolean }>("Controller", "ControllerExpandVolume", {
          volume_id: v.volume_id,
          capacity_range: { required_bytes: String(400 * MiB) },
          volume_capability: mountCap(),
        });
        assert.ok(Number(r.capacity_bytes) >= 400 * MiB);
        assert.equal(r.node_expansion_required, true);
        await remove(v.volume_id);
      });
    }
  });
}
