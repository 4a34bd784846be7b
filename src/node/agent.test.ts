import { test } from "node:test";
import assert from "node:assert/strict";
import { startNodeAgent } from "./agent.ts";
import { isHwError } from "../api/errors.ts";

// Bad flags are refused before the agent touches the machine or the API (INVALID_ARGUMENT → exit code 2).
for (const [title, opts, re] of [
  ["node name", { nodeName: "Bad_Name" }, /not a valid Kubernetes node name/],
  ["--devices entry", { nodeName: "n1", devices: "sdb" }, /neither a \/dev\/ path/],
  ["--disk-class", { nodeName: "n1", diskClass: "fast" }, /HDD, SSD or NVMe/],
] as const) {
  test(`startNodeAgent rejects a bad ${title}`, async () => {
    await assert.rejects(
      startNodeAgent({ ...opts, stateDir: "/nonexistent/never-created" }),
      (e: unknown) => isHwError(e) && e.code === "INVALID_ARGUMENT" && re.test(e.message),
    );
  });
}
