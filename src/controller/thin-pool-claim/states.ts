// Pure decisions of the ThinPoolClaim reconciler (reference §1.15; the original splits it between the controller
// and the node agent, and so do we):
//   controller  ""           → overProvisionRatio valid (≥ 1.0) → Pending; invalid → stays "", Warning event
//               Pending      → node's pool exists, thin pool not shrunk, VG free ≥ data + 2 × metadata
//                              (metadata + its spare) → ToBeConsumed; else stays Pending, Warning event
//               ToBeConsumed → (the node agent of spec.nodeName creates/extends the thin pool, records the claim
//                              in LocalStorageNode status.thinPoolExtendRecords, sets Consumed)
//               Consumed     → ToBeDeleted → Deleted → the claim object is deleted (the record stays on the node)
// Refusals leave the claim where it is with the reason in a Warning event (ThinPoolClaimFail): nothing changed.
// The table reads top to bottom; the first matching row wins.

import { checkThinPoolClaim, parseOverProvisionRatio } from "../../api/thin-pool.ts";
import { ThinPoolClaimStates } from "../../api/names.ts";
import { isHwError } from "../../api/errors.ts";

export interface ThinPoolClaimFacts {
  name: string;
  state: string;
  nodeName?: string;
  description?: { poolName: string; capacity: number; overProvisionRatio?: string; poolMetadataSize?: number };
  /** The node's LocalStorageNode pool of description.poolName (undefined: node or pool missing). */
  pool?: { name: string; freeCapacityBytes: number; thinPool?: { size?: number; metadataSize?: number } };
  lsnExists: boolean;
}

export type ThinPoolClaimDecision =
  | { next: string }
  | { refuse: string } // stay, Warning event with this message
  | { deleteObject: true }
  | { wait: true };

export function decideThinPoolClaim(f: ThinPoolClaimFacts): ThinPoolClaimDecision {
  const S = ThinPoolClaimStates;
  switch (f.state) {
    case S.Empty: {
      if (!f.nodeName) return { refuse: `ThinPoolClaim ${f.name}: spec.nodeName is required` };
      if (!f.description) return { refuse: `ThinPoolClaim ${f.name}: spec.description is required` };
      try {
        parseOverProvisionRatio(f.description.overProvisionRatio, `ThinPoolClaim ${f.name}`);
      } catch (e) {
        if (isHwError(e)) return { refuse: e.message };
        throw e;
      }
      return { next: S.Pending };
    }
    case S.Pending: {
      if (!f.lsnExists) return { refuse: `ThinPoolClaim ${f.name}: node ${f.nodeName} has no LocalStorageNode` };
      const why = checkThinPoolClaim(f.name, f.nodeName ?? "", f.description!, f.pool, f.description!.poolName);
      return why ? { refuse: why } : { next: S.ToBeConsumed };
    }
    case S.ToBeConsumed:
      return { wait: true };
    case S.Consumed:
      return { next: S.ToBeDeleted };
    case S.ToBeDeleted:
      return { next: S.Deleted };
    case S.Deleted:
      return { deleteObject: true };
    default:
      return { refuse: `ThinPoolClaim ${f.name}: unknown status ${JSON.stringify(f.state)}` };
  }
}
