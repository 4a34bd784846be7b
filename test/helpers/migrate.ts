// A LocalVolumeMigrate as a user writes it (docs/migration.md), for `kubectl apply -f -` in end-to-end tests, and
// the safety rules a migration's writes must keep (checked over what watches saw).

/** `migrate-<volume>` from `source` to the first of `targets` that qualifies, the whole volume group. */
export const localVolumeMigrateYaml = (volume: string, source: string, targets: string[]): string =>
  `apiVersion: hwameistor.io/v1alpha1
kind: LocalVolumeMigrate
metadata: {name: migrate-${volume}}
spec: {volumeName: ${volume}, sourceNode: ${source}, targetNodesSuggested: [${targets.join(", ")}], migrateAllVols: true}
`;

/**
 * One write a watch saw during a migration, with its resourceVersion: the volume (`f`: primaries, the migrate-state
 * annotation, publishedNode, and optionally the config's replica nodes), the migration (its state) or the sync
 * ConfigMap (attempt, sourceAttempt, sourceChecksum, targetAttempt, targetChecksum, and optionally targetDiskAttempt,
 * targetDiskChecksum).
 */
export interface Seen {
  rv: number;
  kind: "lv" | "migrate" | "sync";
  f: string[];
}

/**
 * The safety rules over every write seen, in resourceVersion order: exactly one primary in each version of the volume; the target
 * primary only once both checksums of the current attempt were written and equal; published on the target only
 * as its primary and after `migrateCompleted` (never a half-copied target in use); with `source` (and the config's
 * nodes seen): the source dropped from the config only once the target's disk read back the copy's checksum for the
 * current attempt. Answers the violations.
 */
export function migrationViolations(seen: Seen[], target: string, source?: string): string[] {
  const out: string[] = [];
  let sync = { attempt: "", sourceAttempt: "", sourceChecksum: "", targetAttempt: "", targetChecksum: "", diskAttempt: "", diskChecksum: "" };
  for (const s of [...seen].sort((x, y) => x.rv - y.rv)) {
    if (s.kind === "sync") {
      const [attempt = "", sourceAttempt = "", sourceChecksum = "", targetAttempt = "", targetChecksum = "", diskAttempt = "", diskChecksum = ""] = s.f;
      sync = { attempt, sourceAttempt, sourceChecksum, targetAttempt, targetChecksum, diskAttempt, diskChecksum };
      continue;
    }
    if (s.kind !== "lv") continue;
    const [primary = "", annotation = "", published = "", config] = s.f;
    const nodes = config?.split(" ").filter(Boolean);
    const onDisk = !!sync.diskChecksum && sync.diskChecksum === sync.sourceChecksum && sync.diskAttempt === sync.attempt;
    if (source && nodes?.includes(target) && !nodes.includes(source) && !onDisk)
      out.push(`rv ${s.rv}: the replica on ${source} dropped before ${target}'s disk read back the copy (sync: ${JSON.stringify(sync)})`);
    const primaries = primary.split(" ").filter(Boolean);
    const verified =
      !!sync.sourceChecksum && sync.sourceChecksum === sync.targetChecksum && sync.sourceAttempt === sync.attempt && sync.targetAttempt === sync.attempt;
    if (primaries.length !== 1) out.push(`rv ${s.rv}: ${primaries.length} primaries (${primary || "none"})`);
    if (primaries.includes(target) && !verified) out.push(`rv ${s.rv}: ${target} primary before the copy was verified (sync: ${JSON.stringify(sync)})`);
    if (published === target && (annotation !== "migrateCompleted" || primary !== target))
      out.push(`rv ${s.rv}: published on ${target} with primary ${primary || "none"} and ${annotation || "no migrate-state"}`);
  }
  return out;
}
