// kill -9 durability: every create acknowledged with 201 survives a SIGKILL of the server process, and
// resourceVersions keep increasing after the restart. The server runs as a separate process
// (bin/hwameistor apiserver); tests drive it as a client would.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { startTestServer, tempDir } from "./testing/harness.ts";

const bin = resolve(import.meta.dirname, "../../bin/hwameistor");

async function spawnServer(dataDir: string): Promise<{ proc: ChildProcess; url: string; stderr: () => string }> {
  const proc = spawn(bin, ["apiserver", "--data-dir", dataDir, "--port", "0", "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  const line = await new Promise<string>((res, rej) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once("line", res);
    proc.once("exit", (code) => rej(new Error(`apiserver exited ${code}: ${stderr}`)));
  });
  return { proc, url: JSON.parse(line).url, stderr: () => stderr };
}

describe("durability", () => {
  const dirs: string[] = [];
  const procs: ChildProcess[] = [];
  after(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("keeps every acknowledged create across kill -9", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const { proc, url } = await spawnServer(dir);
    procs.push(proc);
    const token = readFileSync(join(dir, "token"), "utf8").trim();
    const acked = new Map<string, number>(); // name -> resourceVersion
    let next = 0;
    let killed = false;
    const exited = new Promise((r) => proc.once("exit", r));
    const worker = async () => {
      while (next < 1000) {
        const i = next++;
        const name = `cm-${String(i).padStart(4, "0")}`;
        if (i === 400 && !killed) {
          killed = true;
          proc.kill("SIGKILL");
        }
        try {
          const r = await fetch(`${url}/api/v1/namespaces/default/configmaps`, {
            method: "POST",
            headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
            body: JSON.stringify({ metadata: { name }, data: { i: String(i) } }),
          });
          if (r.status === 201) acked.set(name, Number(((await r.json()) as any).metadata.resourceVersion));
          else await r.text();
        } catch {
          // connection refused/reset after the kill: not acknowledged
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await exited;
    assert.ok(acked.size >= 300, `only ${acked.size} creates acknowledged before the kill`);

    const s = await startTestServer(dir);
    try {
      const list = await s.req("GET", "/api/v1/namespaces/default/configmaps");
      const present = new Set(list.body.items.map((c: any) => c.metadata.name));
      const missing = [...acked.keys()].filter((n) => !present.has(n));
      assert.deepEqual(missing, [], `acknowledged but lost: ${missing.slice(0, 10).join(",")}`);
      const maxAcked = Math.max(...acked.values());
      const c = await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "after-restart" } });
      assert.equal(c.status, 201);
      assert.ok(Number(c.body.metadata.resourceVersion) > maxAcked);
      assert.ok(Number(list.body.metadata.resourceVersion) >= maxAcked);
    } finally {
      await s.stop();
    }
  });

  it("shuts down gracefully on SIGTERM", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const { proc, stderr } = await spawnServer(dir);
    procs.push(proc);
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => {
      proc.once("exit", (c, s) => r([c, s]));
      proc.kill("SIGTERM");
    });
    assert.equal(code, 0, `exit ${code} signal ${signal}: ${stderr()}`);
  });
});
