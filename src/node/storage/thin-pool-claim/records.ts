// LocalStorageNode status.thinPoolExtendRecords (reference §1.7): one record per consumed ThinPoolClaim, keyed by
// the claim's uid, in consumption order (the pool's overProvisionRatio is the latest record's that set one).
import type { LocalStorageNodeStatus } from "../../../api/kinds/local-storage-node.ts";

type Record_ = NonNullable<LocalStorageNodeStatus["thinPoolExtendRecords"]>[string][number];

/** The status with the record added; the same object when it is already there (nothing to write). */
export function withThinPoolRecord(
  status: LocalStorageNodeStatus | undefined,
  rec: Record_ & { description: NonNullable<Record_["description"]> },
): LocalStorageNodeStatus | undefined {
  const pool = rec.description.poolName;
  const list = status?.thinPoolExtendRecords?.[pool] ?? [];
  if (list.some((r) => r.uid === rec.uid)) return status;
  return { ...(status ?? {}), thinPoolExtendRecords: { ...(status?.thinPoolExtendRecords ?? {}), [pool]: [...list, rec] } };
}
