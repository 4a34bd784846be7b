// Runs `bin/hwameistor` and `bin/hwameictl` against one dev cluster state dir, for end-to-end tests.
// eslint-disable-next-line no-restricted-imports -- tests run the real binaries
import { execFile } from "node:child_process";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dirname, "../..");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function devClusterCli(state: () => string) {
  const run = (bin: "hwameistor" | "hwameictl", args: string[], timeoutMs = 300_000): Promise<RunResult> =>
    new Promise((res) => {
      execFile(
        join(repo, "bin", bin),
        args,
        { cwd: repo, timeout: timeoutMs, maxBuffer: 32 * 2 ** 20, env: { ...process.env, HWAMEISTOR_STATE_DIR: state() } },
        (err, stdout, stderr) => res({ code: err ? (typeof (err as any).code === "number" ? (err as any).code : 1) : 0, stdout, stderr }),
      );
    });
  const ok = async (bin: "hwameistor" | "hwameictl", args: string[]): Promise<string> => {
    const r = await run(bin, args);
    assert.equal(r.code, 0, `${bin} ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const clusterJson = () => JSON.parse(readFileSync(join(state(), "cluster.json"), "utf8"));
  return { run, ok, clusterJson };
}
