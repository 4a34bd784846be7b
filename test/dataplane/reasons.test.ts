// Every error the C data plane answers on its control socket uses a reason registered in ErrorReasons
// (src/api/errors.ts) with the same code, so the node agent maps it like any other HwError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorReasons } from "../../src/api/errors.ts";
import { repo } from "./harness.ts";

test("data plane error reasons are registered with their codes", () => {
  const dir = join(repo, "dataplane/src");
  const seen = new Map<string, string>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".c"))) {
    for (const m of readFileSync(join(dir, f), "utf8").matchAll(/hw_err_set\(\s*\w+,\s*"([A-Z_]+)",\s*"([A-Za-z]+)"/g)) seen.set(`${m[2]} ${m[1]}`, f);
  }
  assert.ok(seen.size > 10, "the scan found the data plane's errors");
  for (const [key, file] of seen) {
    const [reason, code] = key.split(" ") as [string, string];
    assert.equal((ErrorReasons as Record<string, string>)[reason], code, `${file}: reason ${reason} with code ${code} is not registered so in ErrorReasons`);
  }
});
