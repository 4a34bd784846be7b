import assert from "node:assert/strict";
import { test } from "node:test";
import { HwError } from "../api/errors.ts";
import type { KubeClient } from "../kube/client.ts";
import { silentLogger } from "../kube/types.ts";
import { DRIVER_DOWN_RETRY_MS, sidecarController } from "./common.ts";

test("a sidecar's item failing because the driver does not answer retries every second, its backoff not growing", async () => {
  const calls: Record<string, number[]> = { down: [], broken: [] };
  const t0 = Date.now();
  const ctl = sidecarController({} as KubeClient, silentLogger, {
    name: "t",
    reconcile: async (key) => {
      calls[key]!.push(Date.now() - t0);
      if (key === "down") throw new HwError("UNAVAILABLE", "CsiUnavailable", "the CSI driver does not answer");
      throw new HwError("UNAVAILABLE", "ReplicaNotReady", "the driver answered: not yet");
    },
  });
  await ctl.start();
  ctl.enqueue("down");
  ctl.enqueue("broken");
  await new Promise((r) => setTimeout(r, 2.5 * DRIVER_DOWN_RETRY_MS));
  await ctl.stop();
  // the driver's own answer backs off as upstream (1 s, 2 s, …); an unreachable driver is tried each second, uncounted
  assert.equal(ctl.queue.numRequeues("down"), 0);
  assert.ok(calls.down!.length >= 3, `tried at ${calls.down!.join(", ")} ms`);
  assert.ok(ctl.queue.numRequeues("broken") >= 2);
  assert.ok(calls.broken!.length <= 2, `tried at ${calls.broken!.join(", ")} ms`);
});
