// The error registry: every reason raised in src/ is registered with the code it is raised with (one code per
// reason), and an error survives the trip through an object's status with its code, reason and hint.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ErrorReasons, HwError, errorMappings, exitCodeOf, fromErrorStatus, hwError, isErrorReason, toErrorStatus } from "./errors.ts";

const srcDir = join(import.meta.dirname, "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });
}

test("every literal (code, reason) raised in src/ is the registered pair", () => {
  const raise = /(?:new HwError|reclassify)\(\s*"([A-Z_]+)",\s*"([A-Za-z]+)"/g;
  const problems: string[] = [];
  let seen = 0;
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(raise)) {
      seen++;
      const [, code, reason] = m as unknown as [string, string, string];
      const where = `${relative(srcDir, file)}: ${reason}`;
      if (!isErrorReason(reason)) problems.push(`${where} is not in ErrorReasons (src/api/errors.ts)`);
      else if (ErrorReasons[reason] !== code) problems.push(`${where} is raised as ${code}, registered as ${ErrorReasons[reason]}`);
    }
  }
  assert.ok(seen > 100, `the scan found only ${seen} raises: is the pattern still right?`);
  assert.deepEqual(problems, []);
});

test("every registered code is a known code", () => {
  for (const [reason, code] of Object.entries(ErrorReasons)) assert.ok(code in errorMappings, `${reason}: ${code}`);
});

test("hwError takes the code from the registry", () => {
  const e = hwError("InsufficientCapacity", "pool p has 1 byte free", { hint: "add a disk" });
  assert.equal(e.code, "RESOURCE_EXHAUSTED");
  assert.equal(e.reason, "InsufficientCapacity");
});

test("an error keeps code, reason, hint and exit code through a status", () => {
  const e = hwError("InsufficientCapacity", "insufficient free space in pool LocalStorage_PoolHDD", { hint: "add a disk" });
  const st = JSON.parse(JSON.stringify(toErrorStatus(e))) as ReturnType<typeof toErrorStatus>;
  assert.deepEqual(st, { code: "RESOURCE_EXHAUSTED", reason: "InsufficientCapacity", message: e.message, hint: "add a disk" });
  const back = fromErrorStatus(st, "replica r1 on node n1");
  assert.ok(back instanceof HwError);
  assert.equal(back.code, e.code);
  assert.equal(back.reason, e.reason);
  assert.equal(back.hint, e.hint);
  assert.equal(back.message, `replica r1 on node n1: ${e.message}`);
  assert.equal(exitCodeOf(back), exitCodeOf(e));
});

test("a code this build does not know arrives as UNKNOWN with its reason", () => {
  const back = fromErrorStatus({ code: "SOMETHING_NEW", reason: "NewReason", message: "m" });
  assert.equal(back.code, "UNKNOWN");
  assert.equal(back.reason, "NewReason");
});
