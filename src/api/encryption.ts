// Volume encryption references (reference §1.8 volumeEncrypt, §2.1 encryptSecret/encryptType): the StorageClass
// names a Secret as "<namespace>/<name>"; its data key `key` holds the LUKS passphrase (the original's rule).
// Pure checks shared by CreateVolume (refuse before anything is created) and the node (before luksFormat/open).

import { HwError } from "./errors.ts";

/** The Secret data key holding the passphrase (the original reads `secret.Data["key"]`). */
export const ENCRYPT_SECRET_KEY = "key";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** "<namespace>/<name>" → parts; INVALID_ARGUMENT naming the volume and the fix otherwise. */
export function parseSecretRef(ref: string | undefined, volume: string): { namespace: string; name: string } {
  const parts = (ref ?? "").split("/");
  if (parts.length !== 2 || !DNS1123_LABEL.test(parts[0]!) || !DNS1123_SUBDOMAIN.test(parts[1]!)) {
    throw new HwError(
      "INVALID_ARGUMENT",
      "InvalidEncryptSecret",
      `volume ${volume}: encryptSecret ${JSON.stringify(ref ?? "")} is not "<namespace>/<name>" of a Secret`,
      {
        hint: "set the StorageClass parameter encryptSecret to e.g. kube-system/volume-key",
      },
    );
  }
  return { namespace: parts[0]!, name: parts[1]! };
}

/**
 * The passphrase from a Secret object (as the API returns it: data values base64). NOT_FOUND when the Secret is
 * missing, FAILED_PRECONDITION when it has no `key` or an empty one — each naming the Secret and the volume.
 */
export function passphraseFromSecret(secret: { data?: Record<string, string> } | undefined, ref: string, volume: string): Buffer {
  if (!secret) {
    throw new HwError("NOT_FOUND", "EncryptSecretNotFound", `volume ${volume}: encryption Secret ${ref} does not exist`, {
      hint: `create it: kubectl create secret generic ${ref.split("/")[1]} -n ${ref.split("/")[0]} --from-literal=${ENCRYPT_SECRET_KEY}=<passphrase>`,
    });
  }
  const raw = secret.data?.[ENCRYPT_SECRET_KEY];
  if (raw === undefined) {
    const keys = Object.keys(secret.data ?? {});
    throw new HwError(
      "FAILED_PRECONDITION",
      "EncryptSecretNoKey",
      `volume ${volume}: encryption Secret ${ref} has no data key "${ENCRYPT_SECRET_KEY}" (it has: ${keys.length ? keys.join(", ") : "none"})`,
      {
        hint: `put the passphrase under the key "${ENCRYPT_SECRET_KEY}"`,
      },
    );
  }
  const key = Buffer.from(raw, "base64");
  if (key.length === 0)
    throw new HwError("FAILED_PRECONDITION", "EncryptSecretEmpty", `volume ${volume}: encryption Secret ${ref} has an empty "${ENCRYPT_SECRET_KEY}"`);
  return key;
}
