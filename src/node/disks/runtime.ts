// What the disk manager's reconcilers share: the node context, typed clients, the informer caches and the
// options. One controller with a single worker runs every reconciler (keys `ld:`, `ldc:`, `lda:`, `ldn`),
// so binding a claim, reserving by an action and rebuilding the LocalDiskNode never race inside one agent;
// across agents each writes only its own node's disks, and every write is conditional on resourceVersion.
import type { CacheInformer } from "../../kube/informer.ts";
import type { NodeContext } from "../context.ts";
import type { HwameistorClients, Ld, Lda, Ldc, Ldn, Ldv, Lsn } from "../../kube/hwameistor.ts";

export interface DiskRuntime {
  ctx: NodeContext;
  c: HwameistorClients;
  inf: {
    ld: CacheInformer<Ld>;
    ldc: CacheInformer<Ldc>;
    lda: CacheInformer<Lda>;
    ldn: CacheInformer<Ldn>;
    ldv: CacheInformer<Ldv>;
    lsn: CacheInformer<Lsn>;
  };
  /** A claim for a node without a LocalDiskNode gets its Pending explanation after this long. */
  unknownNodeGraceMs: number;
}

export const Keys = {
  disk: (name: string) => `ld:${name}`,
  claim: (name: string) => `ldc:${name}`,
  action: (name: string) => `lda:${name}`,
  node: "ldn",
} as const;

/** This node's LocalDisks (from the cache). */
export const myDisks = (rt: DiskRuntime): Ld[] => rt.inf.ld.list().filter((d) => d.spec?.nodeName === rt.ctx.nodeName);
