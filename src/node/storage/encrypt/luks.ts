// LUKS on a volume replica (reference §2.1 encryptType/encryptSecret, §2.3 mapper `<volume>-encrypt`, §3.1):
// the replica reconciler formats a new encrypted replica's device once (luksFormat with the Secret's `key`), the
// CSI node service opens it at NodePublish (/dev/mapper/<volume>-encrypt is what gets formatted and mounted) and
// closes it at NodeUnpublish.
//
// Deliberate difference: the original ran `luksFormat -q` every time it (re)created a replica, which on a replica
// that already held an encrypted filesystem would destroy it. Here a device that is already LUKS is never
// formatted again; its key is checked instead (a Secret whose key no longer opens it is refused, nothing changed).
//
// NOT RUN HERE: opening needs dm-crypt. luksFormat, isLuks and the key check run on this kernel and are tested on
// a loop device (src/host/cryptsetup/cryptsetup.host.test.ts and luks.host.test.ts beside this file).

import { HwError } from "../../../api/errors.ts";
import { parseSecretRef, passphraseFromSecret } from "../../../api/encryption.ts";
import * as cs from "../../../host/cryptsetup/cryptsetup.ts";
import type { HwameistorClients } from "../../../kube/hwameistor.ts";
import { isNotFound } from "../../../kube/transport.ts";

/** The passphrase for `volume` from the Secret "<namespace>/<name>": missing, wrongly named or empty → HwError. */
export async function readPassphrase(c: Pick<HwameistorClients, "secret">, ref: string | undefined, volume: string): Promise<Buffer> {
  const { namespace, name } = parseSecretRef(ref, volume);
  const secret = await c.secret.get(name, namespace).catch((e: unknown) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  return passphraseFromSecret(secret, `${namespace}/${name}`, volume);
}

/**
 * Make `devPath` a LUKS2 device that `key` opens. Idempotent: a device that is already LUKS is checked, never
 * re-formatted. Returns what it did.
 */
export async function ensureLuks(devPath: string, key: Buffer, volume: string, o: cs.FormatOptions = {}): Promise<"formatted" | "present"> {
  if (await cs.isLuks(devPath)) {
    if (await cs.keyOpens(devPath, key)) return "present";
    throw new HwError(
      "FAILED_PRECONDITION",
      "EncryptionKeyMismatch",
      `volume ${volume}: ${devPath} is a LUKS device that the Secret's key does not open; refusing to re-format it (its data would be lost)`,
      {
        hint: "restore the Secret's original key",
      },
    );
  }
  await cs.luksFormat(devPath, key, o);
  return "formatted";
}

/** Open for publishing: /dev/mapper/<volume>-encrypt (idempotent). */
export async function openLuks(devPath: string, key: Buffer, volume: string): Promise<string> {
  return cs.luksOpen(devPath, cs.mapperName(volume), key);
}

/** Close after unpublishing (idempotent: a mapping that is not open is closed). */
export async function closeLuks(volume: string): Promise<void> {
  await cs.luksClose(cs.mapperName(volume));
}
