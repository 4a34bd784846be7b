// LocalDiskVolume helpers shared by the disk driver's controller service and its node side: a conflict-safe
// status mutation, the volume's node and its usable states. (Typed clients: src/kube/hwameistor.ts.)

import { VolumeStates } from "../api/names.ts";
import type { ResourceClient } from "./client.ts";
import type { Ldv } from "./hwameistor.ts";
import { isConflict } from "./transport.ts";

/**
 * Read-modify-write of an LDV's status, conditional on the resourceVersion read and retried on conflict.
 * `mutate` returns false to skip the write. Resolves the written (or current) object, undefined if gone.
 */
export async function mutateLdvStatus(
  ldvs: ResourceClient<Ldv>,
  name: string,
  mutate: (status: NonNullable<Ldv["status"]>, ldv: Ldv) => boolean | void,
): Promise<Ldv | undefined> {
  for (let attempt = 0; ; attempt++) {
    const cur = await ldvs.get(name);
    if (!cur) return undefined;
    const status = structuredClone(cur.status ?? {});
    if (mutate(status, cur) === false) return cur;
    try {
      return await ldvs.updateStatus({ ...cur, status });
    } catch (e) {
      if (isConflict(e) && attempt < 8) continue;
      throw e;
    }
  }
}

/** The one node of a disk volume. */
export const nodeOfLdv = (ldv: Ldv): string | undefined => ldv.spec?.accessibility?.nodes?.[0];

/** States in which the volume exists on its disk and can be used. */
export const USABLE_STATES: readonly string[] = [VolumeStates.Created, VolumeStates.Ready, VolumeStates.NotReady, VolumeStates.ToBeUnmount];

/** Whether an LDV still holds its disk (everything but a finished delete). */
export const holdsDisk = (ldv: Ldv): boolean => !!ldv.status?.localDiskName && ldv.status?.state !== VolumeStates.Deleted;
