import { test } from "node:test";
import assert from "node:assert/strict";
import { decideResize, selectPolicy, type PolicyView } from "./states.ts";
import { toBinarySI } from "../../api/quantity.ts";

const M = 2 ** 20;
const G = 2 ** 30;
const spec = { warningThreshold: 60, resizeThreshold: 80, nodePoolUsageLimit: 90 };
const pol = (name: string, ts: string, sel: Partial<PolicyView["spec"]> = {}): PolicyView => ({ name, creationTimestamp: ts, spec: { ...spec, ...sel } });
const labels = { pvc: { app: "db" }, namespace: { team: "a" }, storageClass: { tier: "fast" } };

test("resize-policy: precedence pvc > namespace > storageClass > cluster; newest first within a chain", () => {
  const cluster = pol("cluster", "2026-01-01T00:00:00Z");
  const sc = pol("sc", "2026-01-01T00:00:00Z", { storageClassSelector: { matchLabels: { tier: "fast" } } });
  const ns = pol("ns", "2026-01-01T00:00:00Z", { namespaceSelector: { matchLabels: { team: "a" } } });
  const pvcOld = pol("pvc-old", "2026-01-01T00:00:00Z", { pvcSelector: { matchLabels: { app: "db" } } });
  const pvcNew = pol("pvc-new", "2026-02-01T00:00:00Z", { pvcSelector: { matchLabels: { app: "db" } } });
  assert.equal(selectPolicy([cluster, sc, ns, pvcOld, pvcNew], labels)?.name, "pvc-new");
  assert.equal(selectPolicy([cluster, sc, ns], labels)?.name, "ns");
  assert.equal(selectPolicy([cluster, sc], labels)?.name, "sc");
  assert.equal(selectPolicy([cluster], labels)?.name, "cluster");
  // Selectors are ANDed: a PVC-chain policy also requiring another namespace does not match.
  const anded = pol("anded", "2026-03-01T00:00:00Z", { pvcSelector: { matchLabels: { app: "db" } }, namespaceSelector: { matchLabels: { team: "b" } } });
  assert.equal(selectPolicy([anded, cluster], labels)?.name, "cluster");
  assert.equal(selectPolicy([sc], { ...labels, storageClass: {} }), undefined);
});

const pool = { node: "n1", totalBytes: 10 * G, usedBytes: 2 * G, freeBytes: 8 * G };
const table: Array<[string, Parameters<typeof decideResize>, boolean | number, RegExp?]> = [
  ["no policy", [undefined, { usedBytes: 1, capacityBytes: G, pools: [pool] }], false, /no ResizePolicy/],
  ["no usage", [spec, { usedBytes: 0, capacityBytes: G, pools: [pool] }], false, /no usage/],
  ["below threshold", [spec, { usedBytes: 0.5 * G, capacityBytes: G, pools: [pool] }], false, /below resizeThreshold/],
  [
    "pool too full",
    [spec, { usedBytes: 0.9 * G, capacityBytes: G, pools: [{ ...pool, usedBytes: 9.5 * G, freeBytes: 0.5 * G }] }],
    false,
    /nodePoolUsageLimit/,
  ],
  ["no room", [spec, { usedBytes: 0.9 * G, capacityBytes: G, pools: [{ ...pool, totalBytes: 10 * G, usedBytes: 2 * G, freeBytes: 100 * M }] }], false, /free/],
  // used 900 MiB, warning 60 → 900×100/59 = 1525.4 MiB → 1528 MiB (4 MiB aligned), 900/1528 = 58.9 % < 60.
  ["grows to the warning target", [spec, { usedBytes: 900 * M, capacityBytes: G, pools: [pool] }], 1528 * M],
];
for (const [name, args, want, re] of table) {
  test(`resize-policy: ${name}`, () => {
    const d = decideResize(...args);
    if (typeof want === "number") {
      assert.equal(d.resize, true, d.reason);
      assert.equal(d.resize && d.newBytes, want);
    } else assert.equal(d.resize, want);
    if (re) assert.match(d.reason, re);
  });
}

test("resize-policy: BinarySI quantities", () => {
  assert.equal(toBinarySI(G), "1Gi");
  assert.equal(toBinarySI(1528 * M), "1528Mi");
  assert.equal(toBinarySI(1001), "1001");
});
