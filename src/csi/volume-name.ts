// CSI names → object names. The CSI spec lets CreateVolume's `name` (and CreateSnapshot's) be any string
// and makes it the idempotency key; our volumes are Kubernetes objects whose names also become replica
// names (`<volume>-<6>`), LVM LV names and file names. So a name is mapped deterministically:
// - a name that already is a DNS-1123 label of at most 63 characters (every PV name external-provisioner
//   makes: `pvc-<uuid>`) is used as is — the original's behaviour, and the id users see in kubectl;
// - anything else becomes `<sanitized prefix>-<16 hex of sha256(name)>` (≤ 57 characters): lowercase,
//   runs of other characters folded to "-", at most 40 characters of the prefix.
// The original name is kept in the annotation `hwameistor.io/csi-name` (Annotations.CsiName) of the object;
// a re-creation compares names, so a hash collision or a plain name equal to another name's id is refused
// (ALREADY_EXISTS) instead of silently answering with someone else's volume.

import { createHash } from "node:crypto";
import { HwError } from "../api/errors.ts";
import { Annotations } from "../api/names.ts";
import { requireField } from "./validate.ts";

const LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_PLAIN_ID = 63;
const PREFIX_MAX = 40;

/** The object name for a CSI name (see the header). Pure and deterministic. */
export function objectNameFor(name: string): string {
  if (name.length <= MAX_PLAIN_ID && LABEL_RE.test(name)) return name;
  const hash = createHash("sha256").update(name, "utf8").digest("hex").slice(0, 16);
  const prefix = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, PREFIX_MAX)
    .replace(/^-+|-+$/g, "");
  return `${prefix || "vol"}-${hash}`;
}

/** The required request `name` and the object name it maps to. */
export function csiNameOf(name: string | undefined, field = "name"): { name: string; id: string } {
  const n = requireField(name, field);
  return { name: n, id: objectNameFor(n) };
}

/** Annotations recording the CSI name on a new object. */
export const csiNameAnnotation = (name: string): Record<string, string> => ({ [Annotations.CsiName]: name });

/** The CSI name an existing object was created for (objects made before the annotation: their name). */
export function csiNameOfObject(o: { metadata?: { name?: string; annotations?: Record<string, string> } }): string {
  return o.metadata?.annotations?.[Annotations.CsiName] ?? o.metadata?.name ?? "";
}

/** ALREADY_EXISTS when the object `id` was created for another CSI name. */
export function assertSameCsiName(o: { metadata?: { name?: string; annotations?: Record<string, string> } }, name: string, what: string): void {
  const owner = csiNameOfObject(o);
  if (owner !== name) {
    throw new HwError(
      "ALREADY_EXISTS",
      "AlreadyExists",
      `${what} ${o.metadata?.name} already exists for the name ${JSON.stringify(owner.slice(0, 80))}, not ${JSON.stringify(name.slice(0, 80))}`,
      {
        hint: "use another name",
      },
    );
  }
}
