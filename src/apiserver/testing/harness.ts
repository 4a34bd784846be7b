// Test harness for the embedded API server: a server on a free port in a temp dir, and a tiny typed
// HTTP client. Used by the apiserver tests only.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApiServer, type ApiServerTuning, type RunningApiServer } from "../server.ts";

export interface TestServer extends RunningApiServer {
  dataDir: string;
  req(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** Stops the server and removes the data dir. */
  dispose(): Promise<void>;
  /** Stops the server, keeps the data dir. */
  stop(): Promise<void>;
}

export function tempDir(prefix = "hw-apiserver-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestServer(dataDir = tempDir(), tuning: ApiServerTuning = {}): Promise<TestServer> {
  const srv = await startApiServer({ dataDir, port: 0 }, tuning);
  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      await srv.close();
    }
  };
  return {
    ...srv,
    dataDir,
    async req(method, path, body, headers = {}) {
      const h: Record<string, string> = { Authorization: `Bearer ${srv.token}`, ...headers };
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === "string" ? body : JSON.stringify(body);
        h["Content-Type"] ??= "application/json";
      }
      const r = await fetch(srv.url + path, { method, headers: h, body: payload });
      const text = await r.text();
      let parsed: any = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (health endpoints)
      }
      return { status: r.status, body: parsed, headers: r.headers };
    },
    stop,
    async dispose() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads a watch stream: returns an async line iterator and an abort function. */
export async function openWatch(srv: RunningApiServer, path: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const r = await fetch(srv.url + path, { headers: { Authorization: `Bearer ${srv.token}`, ...headers }, signal: ac.signal });
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let buf = "";
  const queue: any[] = [];
  let done = false;
  const pump = async () => {
    try {
      for (;;) {
        const { value, done: d } = await reader.read();
        if (d) break;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim()) queue.push(JSON.parse(line));
        }
      }
    } catch {
      // aborted
    } finally {
      done = true;
    }
  };
  void pump();
  return {
    status: r.status,
    /** Waits for the next event (or throws after timeoutMs). */
    async next(timeoutMs = 3000): Promise<any> {
      const t0 = Date.now();
      while (queue.length === 0) {
        if (done) throw new Error("watch stream ended");
        if (Date.now() - t0 > timeoutMs) throw new Error("timed out waiting for a watch event");
        await new Promise((r) => setTimeout(r, 2));
      }
      return queue.shift();
    },
    get ended() {
      return done && queue.length === 0;
    },
    close() {
      ac.abort();
    },
  };
}
