import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyedLock } from "./keyed-lock.ts";

test("KeyedLock serialises per key, runs keys in parallel, survives a rejection", async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const a1 = lock.with("a", async () => {
    order.push("a1+");
    await sleep(20);
    order.push("a1-");
  });
  const a2 = lock.with("a", async () => {
    order.push("a2+");
    throw new Error("boom");
  });
  const b1 = lock.with("b", async () => {
    order.push("b1");
  });
  const a3 = lock.with("a", async () => order.push("a3"));
  await Promise.allSettled([a1, a2, b1, a3]);
  await assert.rejects(a2, /boom/);
  assert.deepEqual(order, ["a1+", "b1", "a1-", "a2+", "a3"]);
});
