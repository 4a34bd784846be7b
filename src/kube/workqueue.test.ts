import { test } from "node:test";
import assert from "node:assert/strict";
import { BucketRateLimiter, ItemExponentialRateLimiter, MaxOfRateLimiter, WorkQueue } from "./workqueue.ts";
import { sleep } from "./types.ts";

test("add deduplicates queued keys and keeps FIFO order", async () => {
  const q = new WorkQueue();
  q.add("a");
  q.add("b");
  q.add("a");
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), "a");
  assert.equal(await q.get(), "b");
  q.shutDown();
});

test("a key added while processing is re-queued after done, never handed out twice at once", async () => {
  const q = new WorkQueue();
  q.add("a");
  const k = await q.get();
  assert.equal(k, "a");
  q.add("a");
  q.add("a");
  assert.equal(q.len(), 0, "not queued while processing");
  assert.ok(q.isProcessing("a"));
  q.done("a");
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), "a");
  q.done("a");
  assert.equal(q.len(), 0);
  q.shutDown();
});

test("get waits for an add; shutDown wakes waiting workers with undefined and drops delayed adds", async () => {
  const q = new WorkQueue();
  const p = q.get();
  q.add("x");
  assert.equal(await p, "x");
  const waiting = q.get();
  q.addAfter("later", 10_000);
  assert.equal(q.pendingDelayed(), 1);
  q.shutDown();
  assert.equal(await waiting, undefined);
  assert.equal(q.pendingDelayed(), 0);
  q.add("y");
  assert.equal(await q.get(), undefined);
});

test("addAfter delivers after the delay; the earlier of two delays wins", async () => {
  const q = new WorkQueue();
  const t0 = Date.now();
  q.addAfter("k", 200);
  q.addAfter("k", 30);
  q.addAfter("k", 500);
  assert.equal(await q.get(), "k");
  const dt = Date.now() - t0;
  assert.ok(dt >= 25 && dt < 190, `took ${dt} ms`);
  q.done("k");
  await sleep(250);
  assert.equal(q.len(), 0, "the superseded timers did not add again");
  q.shutDown();
});

test("addRateLimited backs off per key exponentially; forget resets", async () => {
  const q = new WorkQueue({ baseDelayMs: 5, maxDelayMs: 1_000_000 });
  const delays = [1, 2, 3, 4].map(() => q.rateLimiter.when("k"));
  assert.deepEqual(delays, [5, 10, 20, 40]);
  assert.equal(q.numRequeues("k"), 4);
  q.forget("k");
  assert.equal(q.numRequeues("k"), 0);
  q.addRateLimited("k");
  assert.equal(await q.get(), "k");
  q.shutDown();
});

test("per-key limiter caps at maxMs and keys are independent", () => {
  const l = new ItemExponentialRateLimiter<string>(5, 1_000_000);
  let last = 0;
  for (let i = 0; i < 40; i++) last = l.when("a");
  assert.equal(last, 1_000_000);
  assert.equal(l.when("b"), 5);
});

test("bucket limiter: burst is free, then spaced by 1/qps", () => {
  let now = 0;
  const b = new BucketRateLimiter<string>(10, 2, () => now);
  assert.equal(b.when("x"), 0);
  assert.equal(b.when("x"), 0);
  assert.equal(b.when("x"), 100);
  assert.equal(b.when("x"), 200);
  now = 1000; // refill
  assert.equal(b.when("x"), 0);
  const m = new MaxOfRateLimiter<string>(new ItemExponentialRateLimiter<string>(5, 100), new BucketRateLimiter<string>(1, 1, () => 0));
  assert.equal(m.when("k"), 5);
  assert.equal(m.when("k"), 1000);
});

test("run: N workers process distinct keys concurrently, the same key serially", async () => {
  const q = new WorkQueue();
  let active = 0;
  let maxActive = 0;
  const perKeyActive = new Map<string, number>();
  let violations = 0;
  const seen: string[] = [];
  const done = q.run(3, async (k) => {
    active++;
    maxActive = Math.max(maxActive, active);
    perKeyActive.set(k, (perKeyActive.get(k) ?? 0) + 1);
    if (perKeyActive.get(k)! > 1) violations++;
    seen.push(k);
    await sleep(20);
    if (k === "a" && seen.filter((s) => s === "a").length === 1) q.add("a"); // re-added while processing
    perKeyActive.set(k, perKeyActive.get(k)! - 1);
    active--;
  });
  for (const k of ["a", "b", "c", "d"]) q.add(k);
  await sleep(120);
  q.shutDown();
  await done;
  assert.equal(violations, 0);
  assert.equal(maxActive, 3);
  assert.equal(seen.filter((s) => s === "a").length, 2);
  assert.deepEqual([...new Set(seen)].sort(), ["a", "b", "c", "d"]);
});
