import { test } from "node:test";
import assert from "node:assert/strict";
import { Controller } from "./controller.ts";
import { conflict } from "../api/errors.ts";
import { silentLogger } from "./types.ts";

async function waitFor(what: string, cond: () => boolean, timeoutMs: number) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("controller: errors are retried with backoff; requeueAfterMs schedules another pass", { timeout: 20_000 }, async () => {
  let calls = 0;
  const times: number[] = [];
  const ctl = new Controller({
    name: "flaky",
    log: silentLogger,
    queue: { baseDelayMs: 50 },
    reconcile: async () => {
      calls++;
      times.push(Date.now());
      if (calls <= 2) throw new Error("transient");
      if (calls === 3) return { requeueAfterMs: 100 };
    },
  });
  await ctl.start(); // no informers: starts at once
  ctl.enqueue("k");
  try {
    await waitFor("4 calls", () => calls >= 4, 5000);
    assert.ok(times[1]! - times[0]! >= 45, "first retry after the base delay");
    assert.ok(times[2]! - times[1]! >= 95, "second retry after twice the base delay");
    assert.ok(times[3]! - times[2]! >= 95, "requeueAfterMs honoured");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(calls, 4, "success without requeueAfter ends the loop");
  } finally {
    await ctl.stop();
  }
});

test("controller: a Conflict is requeued at once and quietly; a streak falls back to backoff", { timeout: 20_000 }, async () => {
  const times: number[] = [];
  const ctl = new Controller({
    name: "conflicted",
    log: silentLogger,
    queue: { baseDelayMs: 200 },
    reconcile: async () => {
      times.push(Date.now());
      if (times.length <= 4) throw conflict("the object has been modified");
    },
  });
  await ctl.start();
  ctl.enqueue("k");
  try {
    await waitFor("5 calls", () => times.length >= 5, 5000);
    assert.ok(times[3]! - times[0]! < 150, "three immediate requeues");
    assert.ok(times[4]! - times[3]! >= 190, "the fourth conflict in a row waits for the backoff");
    assert.equal(ctl.stats.conflicts, 4);
    assert.equal(ctl.stats.errors, 0);
  } finally {
    await ctl.stop();
  }
});
