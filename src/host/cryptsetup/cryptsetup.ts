// cryptsetup: LUKS on a volume replica's device (reference §2.3: mapper name `<volume>-encrypt` under
// /dev/mapper). The original's command lines, with the key on stdin (`--key-file=-`) instead of a temp file:
//   format  `cryptsetup -q -s 512 luksFormat <dev> <keyfile>`            (ours: --key-file=- <dev>)
//   open    `cryptsetup --allow-discards luksOpen -d <keyfile> <dev> <name>` ("already exists" = opened)
//   close   `cryptsetup luksClose <name>`                                  ("is not active" = closed)
//   check   `cryptsetup isLuks <dev>`                                      (exit 0 yes, 1 no)
// `--key-file=-` reads stdin to EOF as binary key bytes, the same bytes the original's key file held (the
// Secret's `key` value written as is), so volumes formatted by either open with the other.
// The key never appears in argv or logs (runner `redact`).
//
// Runs here (no device-mapper): luksFormat, isLuks, luksDump, `open --test-passphrase` (key check), all on a
// loop device over a file — LUKS2 keyslots are encrypted through the kernel crypto API, not dm-crypt.
// NOT RUN HERE: luksOpen/luksClose and `status` of an open mapping (they need dm-crypt); their argv is
// tested as built, `status` parsing against SYNTHETIC text (testdata/README.md), and the refusal text this
// kernel gives ("Cannot initialize device-mapper") is recorded and classified NoDeviceMapper.

import { HwError } from "../../api/errors.ts";
import { isCommandError, run, type RunOptions } from "../runner.ts";
import { assertDevicePath, assertSafeName } from "../validate.ts";

export const MAPPER_DIR = "/dev/mapper";
/** The original's mapper name for a volume: `<volume>-encrypt`. */
export const mapperName = (volume: string): string => `${assertSafeName(volume)}-encrypt`;
export const mapperPath = (volume: string): string => `${MAPPER_DIR}/${mapperName(volume)}`;

export interface FormatOptions {
  /**
   * Key derivation for the keyslot. Default: cryptsetup's (LUKS2 argon2id, ~1 GiB memory, ~2 s), as the original.
   * Tests pass pbkdf2 with few iterations so that a format takes milliseconds; never weaker in production.
   */
  pbkdf?: { type: "pbkdf2"; iterations: number };
}

function assertKey(key: Buffer | string, what: string): Buffer {
  const b = Buffer.isBuffer(key) ? key : Buffer.from(key, "utf8");
  if (b.length === 0) throw new HwError("INVALID_ARGUMENT", "EmptyEncryptionKey", `${what}: the encryption key is empty`);
  return b;
}

// Builders (pure). The key is not an argument: it goes to stdin.
export const luksFormatArgv = (dev: string, o: FormatOptions = {}) => [
  "cryptsetup",
  "-q",
  "-s",
  "512",
  ...(o.pbkdf ? ["--pbkdf", o.pbkdf.type, "--pbkdf-force-iterations", String(Math.max(1000, Math.trunc(o.pbkdf.iterations)))] : []),
  "luksFormat",
  "--key-file=-",
  assertDevicePath(dev),
];
export const luksOpenArgv = (dev: string, name: string) => [
  "cryptsetup",
  "--allow-discards",
  "luksOpen",
  "--key-file=-",
  assertDevicePath(dev),
  assertSafeName(name),
];
export const luksCloseArgv = (name: string) => ["cryptsetup", "luksClose", assertSafeName(name)];
export const isLuksArgv = (dev: string) => ["cryptsetup", "isLuks", assertDevicePath(dev)];
export const testKeyArgv = (dev: string) => ["cryptsetup", "open", "--test-passphrase", "--key-file=-", assertDevicePath(dev)];
export const statusArgv = (name: string) => ["cryptsetup", "status", assertSafeName(name)];
export const luksDumpJsonArgv = (dev: string) => ["cryptsetup", "luksDump", "--dump-json-metadata", assertDevicePath(dev)];

// ---------------------------------------------------------------------------------------------------------
// Parsers

export interface LuksMetadata {
  keyslots: Array<{ id: string; type: string; keyBits: number; kdf: string }>;
  /** The encrypted data segment: where the plaintext device starts on the backing device, and its cipher. */
  segment: { offsetBytes: number; cipher: string; sectorSize: number } | undefined;
}

/** `cryptsetup luksDump --dump-json-metadata` (LUKS2). */
export function parseLuksDumpJson(json: string): LuksMetadata {
  const d = JSON.parse(json) as {
    keyslots?: Record<string, { type?: string; key_size?: number; kdf?: { type?: string } }>;
    segments?: Record<string, { type?: string; offset?: string; encryption?: string; sector_size?: number }>;
  };
  const seg = Object.values(d.segments ?? {}).find((s) => s.type === "crypt");
  return {
    keyslots: Object.entries(d.keyslots ?? {}).map(([id, k]) => ({ id, type: k.type ?? "", keyBits: (k.key_size ?? 0) * 8, kdf: k.kdf?.type ?? "" })),
    segment: seg ? { offsetBytes: Number(seg.offset ?? 0), cipher: seg.encryption ?? "", sectorSize: seg.sector_size ?? 512 } : undefined,
  };
}

export interface CryptStatus {
  active: boolean;
  inUse: boolean;
  type: string;
  cipher: string;
  keyBits: number;
  /** The backing device (the replica's LV). */
  device: string;
  offsetSectors: number;
  sizeSectors: number;
  mode: string;
  flags: string[];
}

/** `cryptsetup status <name>`: "<path> is active[ and is in use]." then "  key: value" lines; "is inactive." otherwise. */
export function parseStatus(text: string): CryptStatus {
  const first = text.split("\n").find((l) => l.trim() !== "") ?? "";
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s+([a-z ]+):\s+(.*)$/.exec(line);
    if (m) kv.set(m[1]!.trim(), m[2]!.trim());
  }
  const num = (k: string) => Number((kv.get(k) ?? "0").split(/\s+/)[0]) || 0;
  return {
    active: / is active/.test(first),
    inUse: /in use/.test(first),
    type: kv.get("type") ?? "",
    cipher: kv.get("cipher") ?? "",
    keyBits: num("keysize"),
    device: kv.get("device") ?? "",
    offsetSectors: num("offset"),
    sizeSectors: num("size"),
    mode: kv.get("mode") ?? "",
    flags: (kv.get("flags") ?? "").split(/\s+/).filter(Boolean),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Classification (cryptsetup 2.6.1 texts)

export function isNoDeviceMapper(e: unknown): boolean {
  return isCommandError(e) && /Cannot initialize device-mapper|dm_mod kernel module|Cannot use device .* name is invalid or still in use/.test(e.stderr);
}
export function isWrongKey(e: unknown): boolean {
  return isCommandError(e) && (e.exitCode === 2 || /No key available with this passphrase/.test(e.stderr));
}

function classify(e: unknown, what: string): unknown {
  if (!isCommandError(e)) return e;
  if (isNoDeviceMapper(e)) {
    return e.reclassify("FAILED_PRECONDITION", "NoDeviceMapper", `${what}: dm-crypt is not available on this node (device-mapper missing)`);
  }
  if (isWrongKey(e)) return e.reclassify("PERMISSION_DENIED", "WrongEncryptionKey", `${what}: the key does not open this LUKS device`);
  return e;
}

// ---------------------------------------------------------------------------------------------------------
// Runners

/** Format `dev` as LUKS2 with `key`. Destroys what `dev` holds: callers check isLuks first (the original did not). */
export async function luksFormat(dev: string, key: Buffer | string, o: FormatOptions & { run?: RunOptions } = {}): Promise<void> {
  const k = assertKey(key, `luksFormat ${dev}`);
  await run(luksFormatArgv(dev, o), { timeoutMs: 120_000, ...o.run, input: k, redact: [k.toString("utf8")] }).catch((e: unknown) => {
    throw classify(e, `luksFormat ${dev}`);
  });
}

export async function isLuks(dev: string, o: RunOptions = {}): Promise<boolean> {
  const r = await run(isLuksArgv(dev), { ...o, allowedExitCodes: [1] });
  return r.exitCode === 0;
}

/** Whether `key` opens a keyslot of `dev` (no device-mapper needed). */
export async function keyOpens(dev: string, key: Buffer | string, o: RunOptions = {}): Promise<boolean> {
  const k = assertKey(key, `key check of ${dev}`);
  try {
    await run(testKeyArgv(dev), { timeoutMs: 120_000, ...o, input: k, redact: [k.toString("utf8")] });
    return true;
  } catch (e) {
    if (isWrongKey(e)) return false;
    throw classify(e, `key check of ${dev}`);
  }
}

/** Open `dev` as /dev/mapper/<name>; idempotent ("already exists" is success). Returns the mapper path. */
export async function luksOpen(dev: string, name: string, key: Buffer | string, o: RunOptions = {}): Promise<string> {
  const k = assertKey(key, `luksOpen ${dev}`);
  try {
    await run(luksOpenArgv(dev, name), { timeoutMs: 120_000, ...o, input: k, redact: [k.toString("utf8")] });
  } catch (e) {
    if (!(isCommandError(e) && /already exists/.test(e.stderr))) throw classify(e, `luksOpen ${dev} as ${name}`);
  }
  return `${MAPPER_DIR}/${name}`;
}

/** Close the mapping; idempotent ("is not active" is success). */
export async function luksClose(name: string, o: RunOptions = {}): Promise<void> {
  try {
    await run(luksCloseArgv(name), o);
  } catch (e) {
    if (isCommandError(e) && /is not active|not active/.test(e.stderr)) return;
    throw classify(e, `luksClose ${name}`);
  }
}

/** Status of a mapping; inactive (exit 4) is a status, not an error. */
export async function status(name: string, o: RunOptions = {}): Promise<CryptStatus> {
  try {
    const r = await run(statusArgv(name), { ...o, allowedExitCodes: [4] });
    return parseStatus(r.stdout);
  } catch (e) {
    throw classify(e, `status of ${name}`);
  }
}

export async function luksDump(dev: string, o: RunOptions = {}): Promise<LuksMetadata> {
  return parseLuksDumpJson((await run(luksDumpJsonArgv(dev), o)).stdout);
}
