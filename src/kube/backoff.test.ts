import { test } from "node:test";
import assert from "node:assert/strict";
import { Backoff, backoffDelayMs } from "./backoff.ts";

test("backoffDelayMs grows by factor and caps", () => {
  assert.equal(backoffDelayMs(0, 200, 2, 30_000), 0);
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => backoffDelayMs(n, 200, 2, 30_000)),
    [200, 400, 800, 1600],
  );
  assert.equal(backoffDelayMs(20, 200, 2, 30_000), 30_000);
  assert.equal(backoffDelayMs(5000, 200, 2, 30_000), 30_000, "no Infinity/NaN overflow");
});

test("Backoff adds jitter within [d, d×(1+jitter)]", () => {
  const lo = new Backoff({ initialMs: 100, jitter: 0.5, random: () => 0 });
  const hi = new Backoff({ initialMs: 100, jitter: 0.5, random: () => 0.999999 });
  assert.deepEqual([lo.next(), lo.next(), lo.next()], [100, 200, 400]);
  assert.deepEqual([hi.next(), hi.next()], [150, 300]);
});

test("Backoff resets after a healthy period, and on reset()", () => {
  let now = 0;
  const b = new Backoff({ initialMs: 10, maxMs: 1000, jitter: 0, resetAfterMs: 5000, now: () => now });
  assert.deepEqual([b.next(), b.next(), b.next()], [10, 20, 40]);
  now = 4000;
  assert.equal(b.next(), 80, "not healthy long enough");
  now = 9001;
  assert.equal(b.next(), 10, "5 s without failure: start over");
  b.next();
  b.reset();
  assert.equal(b.next(), 10);
  for (let i = 0; i < 20; i++) b.next();
  assert.equal(b.next(), 1000, "capped");
});
