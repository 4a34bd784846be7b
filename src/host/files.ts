// Narrow "is it there?" reads of local files. Missing (ENOENT, ENOTDIR) is an answer; every other failure — a
// permission or I/O error, and a programmer error such as a wrong argument type — stays an error, so no
// caller can mistake a broken disk or a bug for "absent".

import fs from "node:fs";
import { readFile } from "node:fs/promises";
import { HwError } from "../api/errors.ts";

const MISSING = ["ENOENT", "ENOTDIR"];

/** The errno code of a Node system error (`ENOENT`, `EBUSY`, …), or undefined for anything else. */
export const errnoOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
};

const isMissing = (e: unknown, alsoMissing: string[]) => {
  const code = errnoOf(e);
  return code !== undefined && (MISSING.includes(code) || alsoMissing.includes(code));
};

/**
 * The value of an fs call, or undefined when the path does not exist. `alsoMissing` adds codes that mean
 * "not there" for this call (e.g. EINVAL for readlink of something that is not a link).
 */
export async function ifExists<T>(p: Promise<T>, ...alsoMissing: string[]): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isMissing(e, alsoMissing)) return undefined;
    throw e;
  }
}

/** ifExists for synchronous fs calls. */
export function ifExistsSync<T>(fn: () => T, ...alsoMissing: string[]): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (isMissing(e, alsoMissing)) return undefined;
    throw e;
  }
}

const corrupt = (path: string, what: string, e: unknown) =>
  new HwError("DATA_LOSS", "CorruptState", `${what} ${path} is not valid JSON: ${(e as Error).message}`, {
    cause: e,
    hint: "the file was damaged; restore it or remove it to let the node rebuild it",
  });

const parseJson = <T>(text: string | undefined, path: string, what: string): T | undefined => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw corrupt(path, what, e);
  }
};

/** A JSON state file, or undefined when it does not exist; one that does not parse is DATA_LOSS naming `what`. */
export async function readJsonIfExists<T>(path: string, what = "state file"): Promise<T | undefined> {
  return parseJson<T>(await ifExists(readFile(path, "utf8")), path, what);
}

/** readJsonIfExists, synchronously. */
export function readJsonIfExistsSync<T>(path: string, what = "state file"): T | undefined {
  return parseJson<T>(
    ifExistsSync(() => fs.readFileSync(path, "utf8")),
    path,
    what,
  );
}
