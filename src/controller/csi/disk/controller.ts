// CSI Controller service of disk.hwameistor.io (runs in the `hwameistor controller` process).
//
// Idempotency:
// - CreateVolume is keyed by the request name (= LocalDiskVolume name). An existing LDV with the same type,
//   node and enough capacity is the answer (we wait for it like for a new one); an incompatible one is
//   ALREADY_EXISTS. Disk choice and LDV creation are serialised per node inside this process, and disks
//   held by any live LDV are excluded, so two volumes never get one disk. Crash windows: LDV created but
//   its disk not yet written into status → the retry finds the LDV without a disk and assigns one.
// - DeleteVolume: an unknown volume is OK; a published one is FAILED_PRECONDITION; otherwise the LDV is
//   marked ToBeDeleted (again, harmlessly, on a retry) and we wait until the node agent removed it.
// - Waits are bounded by the caller's deadline; running out is UNAVAILABLE ("still in progress") and the
//   sidecar's retry picks up where the last call left off.
// - ListVolumes pages by a numeric index into the name-sorted list; a bad token is ABORTED (CSI spec).

import { HwError, fromErrorStatus, invalid, notFound } from "../../../api/errors.ts";
import { Finalizers, LocalDiskStates, ScParams, VolumeStates, diskPoolName, DeviceStates, type PoolClass } from "../../../api/names.ts";
import type { KubeClient } from "../../../kube/client.ts";
import type { Logger } from "../../../kube/types.ts";
import { silentLogger } from "../../../kube/types.ts";
import { DiskDriver, createVolumeHead, validateVolumeCapabilities, controllerCapabilities } from "../../../csi/capabilities.ts";
import { chooseDisk, describeDisks, nodePreference, nodesInOrder, parseDiskParams, type CandidateDisk, type NodePreference } from "./disk-params.ts";
import { hwameistorClients, type Ld, type Ldv } from "../../../kube/hwameistor.ts";
import { holdsDisk, mutateLdvStatus, nodeOfLdv } from "../../../kube/local-disk-volume.ts";
import { volumeCondition } from "./volume-condition.ts";
import { listAll } from "../../../kube/hwameistor.ts";
import type { CallContext, ServiceHandlers } from "../../../csi/server.ts";
import type * as T from "../../../csi/types.ts";
import { isVolumeId, pageOf, requireField, validateVolumeId } from "../../../csi/validate.ts";
import { formatBytes } from "../../../api/quantity.ts";
import { waitUntil } from "../../../csi/wait.ts";
import { KeyedLock } from "../../../kube/keyed-lock.ts";
import { filesystemOf, provisionSize } from "../../../csi/capacity.ts";
import { assertSameCsiName, csiNameAnnotation } from "../../../csi/volume-name.ts";

export interface DiskControllerOptions {
  client: KubeClient;
  log?: Logger;
  /** Upper bound of a CreateVolume/DeleteVolume wait when the caller sets no deadline (default 60 s). */
  maxWaitMs?: number;
  /** Poll interval while waiting for the node agent (default 200 ms). */
  pollMs?: number;
}

/** Transient codes the node retries by itself; anything else it reports is the answer. */
const TRANSIENT: ReadonlySet<string> = new Set(["UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED"]);

/** The node agent's failure on this volume (status.error), with its own code and reason. */
function throwNodeFailure(ldv: Ldv): void {
  const err = ldv.status?.error;
  if (err && !TRANSIENT.has(err.code)) throw fromErrorStatus(err, `volume ${ldv.metadata?.name} on node ${nodeOfLdv(ldv)}`);
}

export function diskControllerService(o: DiskControllerOptions): ServiceHandlers {
  const c = hwameistorClients(o.client);
  const log = o.log ?? silentLogger;
  const pollMs = o.pollMs ?? 200;
  const maxWaitMs = o.maxWaitMs ?? 60_000;
  /** Per-node serialisation of the disk choice within this process. */
  const nodeLocks = new KeyedLock();
  const withNodeLock = <R>(node: string, fn: () => Promise<R>): Promise<R> => nodeLocks.with(node, fn);

  const wait = (ctx: CallContext, what: string, done: () => Promise<boolean>) => waitUntil(ctx, what, { maxWaitMs, pollMs }, done);

  /** Disks of `type` that are Available on `node` and not held by any live LDV. */
  async function freeDisks(node: string, type: PoolClass): Promise<{ free: CandidateDisk[]; other: string }> {
    const ldn = await c.ldn.get(node);
    if (!ldn) {
      // RESOURCE_EXHAUSTED (not NOT_FOUND) so the provisioner reschedules the pod to a node that has disks.
      throw new HwError("RESOURCE_EXHAUSTED", "NoDiskNode", `node ${node} has no LocalDiskNode, so no disks for volumes`, {
        hint: "is the node agent (disk manager) running on that node?",
      });
    }
    const [lds, ldvs] = await Promise.all([listAll(c.ld), listAll(c.ldv)]);
    const held = new Set(ldvs.filter(holdsDisk).map((v) => v.status!.localDiskName!));
    const byPath = new Map<string, Ld>();
    for (const d of lds) if (d.spec?.nodeName === node && d.spec.devicePath) byPath.set(d.spec.devicePath, d);
    const free: CandidateDisk[] = [];
    const others: string[] = [];
    for (const [poolName, pool] of Object.entries(ldn.status?.pools ?? {})) {
      for (const disk of pool.disks ?? []) {
        if (poolName !== diskPoolName(type)) {
          if (disk.state === DeviceStates.Available) others.push(`${pool.class ?? poolName} ${disk.devPath} (${formatBytes(Number(disk.capacityBytes ?? 0))})`);
          continue;
        }
        const ld = disk.devPath ? byPath.get(disk.devPath) : undefined;
        if (disk.state !== DeviceStates.Available || !ld?.metadata?.name) continue;
        // Defence in depth: the disk manager keeps reserved and inactive disks out of pools anyway.
        if (ld.spec?.reserved || (ld.spec?.state && ld.spec.state !== LocalDiskStates.Active) || held.has(ld.metadata.name)) continue;
        free.push({ localDiskName: ld.metadata.name, devPath: disk.devPath!, capacityBytes: Number(ld.spec?.capacity ?? disk.capacityBytes ?? 0) });
      }
    }
    return { free, other: others.length ? others.join(", ") : "none" };
  }

  function toVolume(ldv: Ldv): T.Volume {
    const node = nodeOfLdv(ldv);
    return {
      volume_id: ldv.metadata!.name!,
      capacity_bytes: String(ldv.status?.allocatedCapacityBytes ?? ldv.spec?.requiredCapacityBytes ?? 0),
      volume_context: { [ScParams.DiskType]: ldv.spec?.diskType ?? "" },
      // Not returned by the original; returning it lets the provisioner write the PV's node affinity.
      accessible_topology: node ? [{ segments: { [DiskDriver.topologyKey]: node } }] : [],
    };
  }

  /**
   * The node for a new volume: the first preferred node with a fitting Available disk, else the allowed node
   * offering the smallest fitting disk (ties by name). When none fits, the first candidate, whose
   * assignDisk then answers RESOURCE_EXHAUSTED listing what it has.
   */
  async function pickNode(type: PoolClass, requiredBytes: number, limitBytes: number | undefined, pref: NodePreference): Promise<string> {
    const known = pref.allowed ? [] : (await listAll(c.ldn)).map((n) => n.metadata!.name!);
    const order = nodesInOrder(pref, known);
    if (!order.length)
      throw new HwError("RESOURCE_EXHAUSTED", "NoDiskNode", `no node has a LocalDiskNode, so no disks for volumes`, {
        hint: "is the node agent (disk manager) running?",
      });
    let best: { node: string; bytes: number } | undefined;
    for (const node of order) {
      const free = await freeDisks(node, type).then(
        (f) => f.free,
        (e: unknown) => {
          if (e instanceof HwError && e.reason === "NoDiskNode") return [];
          throw e;
        },
      );
      const disk = chooseDisk(free, requiredBytes, limitBytes);
      if (!disk) continue;
      if (pref.preferred.includes(node)) return node;
      if (!best || disk.capacityBytes < best.bytes) best = { node, bytes: disk.capacityBytes };
    }
    return best?.node ?? order[0]!;
  }

  async function assignDisk(name: string, node: string, type: PoolClass, requiredBytes: number, limitBytes: number | undefined): Promise<void> {
    const { free, other } = await freeDisks(node, type);
    const disk = chooseDisk(free, requiredBytes, limitBytes);
    if (!disk) {
      throw new HwError(
        "RESOURCE_EXHAUSTED",
        "NoDiskAvailable",
        `no Available ${type} disk of at least ${formatBytes(requiredBytes)}${limitBytes ? ` and at most ${formatBytes(limitBytes)}` : ""} on node ${node} for volume ${name}`,
        { hint: `Available ${type} disks there: ${describeDisks(free)}; other Available disks: ${other}` },
      );
    }
    await mutateLdvStatus(c.ldv, name, (st) => {
      if (st.localDiskName) return false;
      st.localDiskName = disk.localDiskName;
      st.devPath = disk.devPath;
      st.allocatedCapacityBytes = disk.capacityBytes;
      st.state = VolumeStates.Creating;
    });
    log.info({ volume: name, node, disk: disk.localDiskName, devPath: disk.devPath }, "disk assigned");
  }

  return {
    async ControllerGetCapabilities() {
      return controllerCapabilities(DiskDriver);
    },

    async CreateVolume(req: T.CreateVolumeRequest, ctx: CallContext): Promise<T.CreateVolumeResponse> {
      // The CSI name may be any string; the LocalDiskVolume's name is derived from it (src/csi/volume-name.ts).
      const { csiName, name, caps } = createVolumeHead(DiskDriver, req);
      if (req.volume_content_source) throw invalid(`volume_content_source: ${DiskDriver.name} cannot create a volume from a snapshot or volume`);
      const params = parseDiskParams(req.parameters);
      const pref = nodePreference(req.accessibility_requirements);
      // A disk smaller than the filesystem's minimum is never chosen for a filesystem volume.
      const fsType = filesystemOf(caps, req.parameters, DiskDriver.fsTypes[0]!);
      const { bytes: requiredBytes, limitBytes } = provisionSize(req.capacity_range, { minBytes: params.minCapBytes, fsType, defaultBytes: 0 });

      const existing = await c.ldv.get(name);
      const node = (existing && nodeOfLdv(existing)) || (await pickNode(params.diskType, requiredBytes, limitBytes, pref));
      await withNodeLock(node, async () => {
        let ldv = await c.ldv.get(name);
        if (ldv) {
          assertSameCsiName(ldv, csiName, "volume");
          const have = ldv.status?.allocatedCapacityBytes ?? 0;
          const sameNode = nodeOfLdv(ldv) === node && (!pref.allowed || pref.allowed.includes(node));
          if (ldv.metadata?.deletionTimestamp || ldv.status?.state === VolumeStates.ToBeDeleted || ldv.status?.state === VolumeStates.Deleted) {
            throw new HwError("ABORTED", "BeingDeleted", `volume ${name} is being deleted`, { hint: "retry after the delete finished" });
          }
          if (
            ldv.spec?.diskType !== params.diskType ||
            !sameNode ||
            (ldv.status?.localDiskName && (have < requiredBytes || (limitBytes !== undefined && have > limitBytes)))
          ) {
            throw new HwError(
              "ALREADY_EXISTS",
              "AlreadyExists",
              `volume ${name} already exists as a ${ldv.spec?.diskType} volume of ${formatBytes(have)} on node ${nodeOfLdv(ldv)}, incompatible with this request (${params.diskType}, ≥ ${formatBytes(requiredBytes)}, node ${node})`,
            );
          }
        } else {
          ldv = await c.ldv.create({
            metadata: { name, finalizers: [Finalizers.LocalDisk], annotations: csiNameAnnotation(csiName) },
            spec: {
              diskType: params.diskType,
              requiredCapacityBytes: requiredBytes,
              accessibility: { nodes: [node] },
              ...(params.pvc ? { persistentVolumeClaimName: params.pvc } : {}),
              canWipe: false,
            },
          } as Ldv);
          log.info({ volume: name, node, type: params.diskType, requiredBytes }, "LocalDiskVolume created");
        }
        // Crash window: the LDV was created but no disk was written into its status.
        if (!ldv.status?.localDiskName) {
          try {
            await assignDisk(name, node, params.diskType, requiredBytes, limitBytes);
          } catch (e) {
            // Nothing fits: remove the half-made LDV so a later retry (or another node) starts clean.
            if (e instanceof HwError && e.code === "RESOURCE_EXHAUSTED") {
              await c.ldv.removeFinalizer(name, Finalizers.LocalDisk);
              await c.ldv.delete(name);
            }
            throw e;
          }
        }
      });

      let last: Ldv | undefined;
      await wait(ctx, `creating volume ${name} on node ${node}`, async () => {
        last = await c.ldv.get(name);
        if (!last) throw new HwError("ABORTED", "Deleted", `volume ${name} was deleted while being created`);
        throwNodeFailure(last);
        const st = last.status?.state ?? "";
        return st !== VolumeStates.Creating && st !== VolumeStates.Empty;
      });
      return { volume: toVolume(last!) };
    },

    async DeleteVolume(req: T.DeleteVolumeRequest, ctx: CallContext): Promise<object> {
      const name = requireField(req.volume_id, "volume_id");
      if (!isVolumeId(name)) return {}; // we never hand out such an id: it does not exist (CSI: OK)
      const ldv = await c.ldv.get(name);
      if (!ldv) return {};
      const mps = ldv.status?.mountPoints ?? [];
      if (mps.length) {
        throw new HwError("FAILED_PRECONDITION", "VolumePublished", `volume ${name} is still published at ${mps.map((m) => m.targetPath).join(", ")}`, {
          hint: "unpublish it (delete the pod) first",
        });
      }
      await mutateLdvStatus(c.ldv, name, (st) => {
        if (st.state === VolumeStates.ToBeDeleted || st.state === VolumeStates.Deleted) return false;
        if ((st.mountPoints ?? []).length) throw new HwError("FAILED_PRECONDITION", "VolumePublished", `volume ${name} was published meanwhile`);
        st.state = VolumeStates.ToBeDeleted;
      });
      log.info({ volume: name }, "LocalDiskVolume marked ToBeDeleted");
      await wait(ctx, `deleting volume ${name}`, async () => {
        const cur = await c.ldv.get(name);
        if (cur) throwNodeFailure(cur);
        return !cur;
      });
      return {};
    },

    ValidateVolumeCapabilities(req: T.ValidateVolumeCapabilitiesRequest): Promise<T.ValidateVolumeCapabilitiesResponse> {
      return validateVolumeCapabilities(DiskDriver, req, async (name) => !!(await c.ldv.get(name)));
    },

    async ListVolumes(req: T.ListVolumesRequest): Promise<T.ListVolumesResponse> {
      const [ldvs, lds] = await Promise.all([listAll(c.ldv), listAll(c.ld)]);
      const { page, next_token } = pageOf(
        ldvs.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!)),
        req,
      );
      const disks = new Map(lds.map((d) => [d.metadata!.name!, d]));
      return {
        entries: page.map((v) => ({
          volume: toVolume(v),
          status: { volume_condition: volumeCondition(v, disks.get(v.status?.localDiskName ?? "")) },
        })),
        next_token,
      };
    },

    async ControllerGetVolume(req: T.ControllerGetVolumeRequest): Promise<T.ControllerGetVolumeResponse> {
      const name = validateVolumeId(req.volume_id);
      const ldv = await c.ldv.get(name);
      if (!ldv) throw notFound(`volume ${name}`);
      const disk = ldv.status?.localDiskName ? await c.ld.get(ldv.status.localDiskName) : undefined;
      return { volume: toVolume(ldv), status: { volume_condition: volumeCondition(ldv, disk) } };
    },
  };
}
