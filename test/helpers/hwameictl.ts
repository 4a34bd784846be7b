// Runs hwameictl in the test's process (each command's handler, printer and error mapping as bin/hwameictl has
// them), against an API server's kubeconfig, with a state dir that holds no dev cluster.
import { join } from "node:path";
import { Writable } from "node:stream";
import { CommanderError } from "commander";
import { exitCodeOf, isHwError } from "../../src/api/errors.ts";
import { buildHwameictl } from "../../src/cli/hwameictl/main.ts";

export async function runHwameictl(kubeconfigPath: string, dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  const out = new Writable({
    write(chunk, _enc, cb) {
      stdout += String(chunk);
      cb();
    },
  });
  const program = buildHwameictl({
    out,
    onUsageError: (err) => {
      throw err;
    },
  });
  try {
    await program.parseAsync(["node", "hwameictl", "--kubeconfig", kubeconfigPath, "--state-dir", join(dataDir, "no-cluster"), ...args]);
    return { code: 0, stdout, stderr: "" };
  } catch (e) {
    if (e instanceof CommanderError) return { code: 2, stdout, stderr: e.message };
    return { code: exitCodeOf(e), stdout, stderr: isHwError(e) ? e.fullMessage : String(e) };
  }
}
