// Integration: a toy controller on the real embedded API server — copies each ConfigMap labelled
// `copy=yes` into `<name>-copy` — converging, requeueing on conflict, and recording deduplicated Events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Controller } from "./controller.ts";
import { Informer } from "./informer.ts";
import { CONFIG_MAP, EVENT } from "./resources.ts";
import { withTestServer, TestServer, waitFor } from "../../test/helpers/api-server.ts";
import { silentLogger, splitKey, type KubeObject } from "./types.ts";

let srv: TestServer;
const skip = await withTestServer((s) => (srv = s));

type CM = KubeObject & { data?: Record<string, string> };

test("controller: copies ConfigMaps, converges, requeues on conflict", { skip, timeout: 30_000 }, async () => {
  const client = srv.newClient();
  const cms = client.forKind<CM>(CONFIG_MAP);
  const sources = new Informer<CM>(cms, { namespace: "default", labelSelector: "copy=yes", log: silentLogger });
  const copies = new Informer<CM>(cms, { namespace: "default", labelSelector: "copy-of", log: silentLogger });
  let injectConflict = true;
  const reconciled: string[] = [];

  const ctl: Controller = new Controller({
    name: "copier",
    workers: 2,
    log: silentLogger,
    events: { client },
    reconcile: async (key) => {
      reconciled.push(key);
      const { namespace, name } = splitKey(key);
      const src = sources.get(key);
      const targetName = `${name}-copy`;
      if (!src) {
        await cms.delete(targetName, namespace);
        return;
      }
      const cur = await cms.get(targetName, namespace);
      if (!cur) {
        await cms.create({ metadata: { name: targetName, namespace, labels: { "copy-of": name } }, data: src.data });
        await ctl.recordEvent(src, "Normal", "Copied", `copied into ${targetName}`);
        return;
      }
      if (JSON.stringify(cur.data ?? {}) === JSON.stringify(src.data ?? {})) return;
      if (injectConflict) {
        // Someone else writes between our read and our write: our update carries a stale resourceVersion.
        injectConflict = false;
        await cms.patch(targetName, { metadata: { annotations: { touched: "1" } } }, { namespace });
      }
      await cms.update({ ...cur, data: src.data }); // 409 the first time → quiet requeue
      await ctl.recordEvent(src, "Normal", "Copied", `copied into ${targetName}`);
    },
  });
  ctl.watch(sources).watch(copies, (o) => `${o.metadata?.namespace}/${o.metadata?.labels?.["copy-of"]}`);

  await cms.create({ metadata: { name: "s1", namespace: "default", labels: { copy: "yes" } }, data: { a: "1" } });
  await ctl.start();
  try {
    await waitFor("s1 copied", async () => (await cms.get("s1-copy", "default"))?.data?.a === "1");

    await cms.patch("s1", { data: { a: "2", b: "x" } }, { namespace: "default" });
    await waitFor("update copied", async () => (await cms.get("s1-copy", "default"))?.data?.b === "x");
    assert.deepEqual((await cms.get("s1-copy", "default"))?.data, { a: "2", b: "x" });
    assert.equal(ctl.stats.conflicts, 1, "one conflict, requeued quietly");
    assert.equal(ctl.stats.errors, 0);

    // Drift on the copy is repaired (the copy informer maps it back to its source).
    await cms.patch("s1-copy", { data: { a: "tampered" } }, { namespace: "default" });
    await waitFor("drift repaired", async () => (await cms.get("s1-copy", "default"))?.data?.a === "2");

    // Same reason and message twice → one Event with count 2.
    const events = await client.forKind<KubeObject & { reason?: string; count?: number; message?: string }>(EVENT).list({
      namespace: "default",
      fieldSelector: "involvedObject.name=s1",
    });
    const copied = events.items.filter((e) => e.reason === "Copied" && e.message === "copied into s1-copy");
    assert.equal(copied.length, 1);
    assert.ok((copied[0]!.count ?? 0) >= 2, `count ${copied[0]!.count}`);

    await cms.delete("s1", "default");
    await waitFor("copy removed", async () => !(await cms.get("s1-copy", "default")));
  } finally {
    await ctl.stop();
  }
  assert.ok(reconciled.length >= 4);
});
