// Drives the machine's real, unmodified kubectl against a server, the way a user would.
// eslint-disable-next-line no-restricted-imports -- tests drive the real kubectl binary
import { execFile, spawn, type ChildProcess } from "node:child_process";

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export function kubectlRunner(kubeconfigPath: string, extraEnv: Record<string, string> = {}) {
  const env = { ...process.env, KUBECONFIG: kubeconfigPath, ...extraEnv };
  /** Runs kubectl; resolves with its output and exit code (never rejects on a non-zero exit). */
  const run = (args: string[], input?: string, moreEnv: Record<string, string> = {}): Promise<KubectlResult> =>
    new Promise((resolve, reject) => {
      const child = execFile("kubectl", args, { env: { ...env, ...moreEnv }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err && typeof (err as any).code !== "number") return reject(err);
        resolve({ stdout, stderr, code: err ? ((err as any).code as number) : 0 });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  /** Runs kubectl and throws with its stderr when it fails. */
  const ok = async (args: string[], input?: string, moreEnv: Record<string, string> = {}): Promise<string> => {
    const r = await run(args, input, moreEnv);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  /** Starts a long-running kubectl (e.g. get -w); the caller must kill it. */
  const start = (args: string[]): { child: ChildProcess; output: () => string } => {
    const child = spawn("kubectl", args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d.toString()));
    child.stderr!.on("data", (d) => (out += d.toString()));
    return { child, output: () => out };
  };
  return { run, ok, start };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
