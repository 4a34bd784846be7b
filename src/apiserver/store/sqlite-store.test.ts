import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { tempDir } from "../testing/harness.ts";
import { SqliteStore, type StoreEvent } from "./sqlite-store.ts";

const key = (name: string, namespace = "default") => ({ group: "", resource: "configmaps", namespace, name });

describe("SqliteStore", () => {
  it("assigns increasing resourceVersions, logs events and notifies in commit order after the commit", async () => {
    const dir = tempDir();
    const s = new SqliteStore(dir);
    try {
      const seen: StoreEvent[] = [];
      s.onCommit((e) => seen.push(e));
      const a = s.write("ADDED", key("a"), { metadata: { name: "a" } });
      const b = s.write("ADDED", key("b"), { metadata: { name: "b" } });
      const a2 = s.write("MODIFIED", key("a"), { metadata: { name: "a" }, data: { x: "1" } });
      s.write("DELETED", key("b"), { metadata: { name: "b" } });
      assert.equal(seen.length, 0); // not committed yet: nobody hears of it
      await s.sync();
      assert.deepEqual(
        seen.map((e) => e.rv),
        [a.rv, b.rv, a2.rv, a2.rv + 1],
      );
      assert.equal(JSON.parse(s.get(key("a"))!).metadata.resourceVersion, String(a2.rv));
      assert.equal(s.get(key("b")), undefined);
      assert.deepEqual(
        s.eventsAfter("", "configmaps", a.rv).map((e) => e.type),
        ["ADDED", "MODIFIED", "DELETED"],
      );
      assert.equal(s.currentRv, a2.rv + 1);
    } finally {
      s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists in key order with paging and counts", () => {
    const dir = tempDir();
    const s = new SqliteStore(dir);
    try {
      for (const ns of ["b", "a"]) for (const n of ["y", "x", "z"]) s.write("ADDED", key(n, ns), { metadata: { name: n, namespace: ns } });
      assert.deepEqual(
        s.list("", "configmaps", undefined).map((r) => `${r.namespace}/${r.name}`),
        ["a/x", "a/y", "a/z", "b/x", "b/y", "b/z"],
      );
      const p1 = s.list("", "configmaps", undefined, undefined, 4);
      assert.equal(p1.length, 4);
      const last = p1[3]!;
      assert.deepEqual(
        s.list("", "configmaps", undefined, last).map((r) => r.name),
        ["y", "z"],
      );
      assert.equal(s.countAfter("", "configmaps", undefined, last), 2);
      assert.deepEqual(
        s.list("", "configmaps", "b", { namespace: "b", name: "x" }).map((r) => r.name),
        ["y", "z"],
      );
      assert.equal(s.countInNamespace("a"), 3);
    } finally {
      s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("compacts the event log and keeps the resourceVersion across reopen", async () => {
    const dir = tempDir();
    let s = new SqliteStore(dir, { eventRetention: 50 });
    try {
      for (let i = 0; i < 300; i++) {
        s.write("ADDED", key(`c${i}`), { metadata: { name: `c${i}` } });
        if (i % 10 === 9) await s.sync();
      }
      assert.ok(s.oldestReplayableRv > 0);
      assert.ok(s.oldestReplayableRv >= 300 - 150);
      const before = s.currentRv;
      s.close();
      s = new SqliteStore(dir, { eventRetention: 50 });
      assert.equal(s.currentRv, before);
      assert.ok(s.oldestReplayableRv > 0);
      assert.equal(s.write("ADDED", key("next"), { metadata: { name: "next" } }).rv, before + 1);
    } finally {
      s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
