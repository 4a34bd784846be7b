// The web dashboard in a real browser against a live dev cluster (issue 14 "Done when"): `hwameistor cluster
// up` with 3 node agents, two volumes made with hwameictl, `hwameistor rest` (HTTPS, auth on) serving ui/dist,
// and Debian's Chromium driven by playwright-core: log in, see the 3 nodes and their pools, take a snapshot of
// one volume and expand it, start a migration of the other (a refused one first: its message names the node and
// the fix) and watch its progress until its replica is on the target node, read both operations' records in the
// operation log; a screenshot of every page (1280 px and phone width) under test-results/dashboard/ (gitignored),
// and axe-core injected into each page with no serious or critical violation.
// Needs root (the dev cluster), /usr/bin/chromium and a built ui/dist (scripts/install-deps.sh builds it).
// `after` closes the browser, stops the REST server and runs `cluster down --purge`, also on failure.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { selfSignedCert } from "../../src/host/tls/self-signed.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { hwameistorClients } from "../../src/kube/hwameistor.ts";
import { startRestServer, type RunningRestServer } from "../../src/rest/server.ts";

const repo = resolve(import.meta.dirname, "../..");
const CHROMIUM = "/usr/bin/chromium";
const UI_DIR = join(repo, "ui", "dist");
const SHOTS = process.env.DASHBOARD_SCREENSHOTS ?? join(repo, "test-results", "dashboard");
const VOLUME = "web-vol";
/** Migrated from the dashboard. Not web-vol: a volume's snapshots stay on their node, so the controller would wait. */
const MIG = "web-mig";
const MIGRATION = `migrate-${MIG}`;
const MiB = 2 ** 20;
const skip =
  process.getuid?.() !== 0
    ? "needs root (dev cluster)"
    : !existsSync(CHROMIUM)
      ? "needs Debian's chromium (apt-get install chromium; scripts/install-deps.sh does)"
      : !existsSync(join(UI_DIR, "index.html"))
        ? "needs the built dashboard (npm run build:ui; scripts/install-deps.sh does)"
        : false;

let dir = "";
let state = "";
/** Development only: DASHBOARD_STATE_DIR keeps the dev cluster between runs (not torn down; reused when running). */
const reuse = process.env.DASHBOARD_STATE_DIR;
const SNAP = `web-snap-${randomBytes(3).toString("hex")}`;
let targetBytes = 768 * MiB;
let rest: RunningRestServer | undefined;
let browser: Browser | undefined;
let kube: KubeClient | undefined;
const secretKey = randomBytes(12).toString("hex");
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const timings: Record<string, number> = {};

function run(bin: "hwameistor" | "hwameictl", args: string[], timeoutMs = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(
      join(repo, "bin", bin),
      args,
      { cwd: repo, timeout: timeoutMs, maxBuffer: 32 * MiB, env: { ...process.env, HWAMEISTOR_STATE_DIR: state } },
      (err, stdout, stderr) =>
        res({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0, stdout, stderr }),
    );
  });
}

async function ok(bin: "hwameistor" | "hwameictl", args: string[]): Promise<string> {
  const r = await run(bin, args);
  assert.equal(r.code, 0, `${bin} ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** Bytes as the dashboard prints them (ui/src/format.ts). */
function uiBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * Reads an operation's row (kept listed by the server after the controller deletes the finished operation) every
 * 300 ms until it says Completed 100 % and `done` holds; fails on Failed/Aborted or after `timeoutMs`, listing the
 * steps seen. Returns the distinct "state progress%" steps, screenshot at the first.
 */
async function watchOperation(page: Page, testId: string, what: string, timeoutMs: number, done: () => Promise<boolean>, firstShot: string): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = page.getByTestId(testId);
    if (await row.count()) {
      const txt = (await row.innerText()).replace(/\s+/g, " "); // the state badge is shown in capitals
      const m = /\b(Submitted|InProgress|AddReplica|SyncReplica|PruneReplica|Completed|ToBeAborted|Failed|Aborted|Pending)\b.*?(\d+)%/i.exec(txt);
      const step = m ? `${m[1]} ${m[2]}%` : txt;
      if (seen.at(-1) !== step) {
        seen.push(step);
        if (seen.length === 1) await shot(page, firstShot);
      }
      assert.ok(!/^(Failed|Aborted|ToBeAborted)/i.test(step), `${what} ended ${step}: ${txt}`);
      if (/^Completed 100%$/i.test(step) && (await done())) return seen;
    }
    assert.ok(Date.now() < deadline, `${what} did not finish in ${timeoutMs / 1000} s; progress seen: ${seen.join(" → ") || "(no row)"}`);
    await page.waitForTimeout(300);
  }
}

/** Fails when a state badge shows a clipped label (e.g. "COMPLET…"): the state must be readable at this width. */
async function noClippedBadge(page: Page, where: string): Promise<void> {
  const clipped = await page.evaluate(() => {
    const d = (
      globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ scrollWidth: number; clientWidth: number; textContent: string }> } }
    ).document;
    return Array.from(d.querySelectorAll(".mantine-Badge-label"))
      .filter((e) => e.scrollWidth > e.clientWidth + 1)
      .map((e) => e.textContent);
  });
  assert.deepEqual(clipped, [], `${where}: state badges shown clipped`);
}

/** Fails when the page is wider than the viewport (tables scroll inside their own box instead). */
async function fitsWidth(page: Page, where: string): Promise<void> {
  const overflow = await page.evaluate(() => {
    const el = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
    return el.scrollWidth - el.clientWidth;
  });
  assert.ok(overflow <= 1, `${where}: the page is ${overflow}px wider than the screen`);
}

/** axe-core in the page; fails on any serious or critical violation, naming the rule and the elements. */
async function axe(page: Page, where: string): Promise<void> {
  // Measure settled pages: no element still fading in (a half-transparent dialog fails contrast for no reason).
  await page
    .waitForFunction(
      () => {
        const g = globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<unknown> }; getComputedStyle(e: unknown): { opacity: string } };
        return Array.from(g.document.querySelectorAll(".mantine-Modal-content")).every((e) => g.getComputedStyle(e).opacity === "1");
      },
      undefined,
      { timeout: 5000 },
    )
    .catch(() => undefined);
  // The page's CSP forbids inline scripts (the context bypasses CSP for this injection only: bypassCSP).
  if (!(await page.evaluate(() => "axe" in globalThis))) await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    const g = globalThis as unknown as {
      document: unknown;
      axe: { run(ctx: unknown, o: object): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> };
    };
    const r = await g.axe.run(g.document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `${where}: accessibility violations:\n${JSON.stringify(serious, null, 2)}`);
}

async function goto(page: Page, hash: string, heading: string | RegExp): Promise<void> {
  await page.goto(`${rest!.url}/#/${hash}`);
  await page.getByRole("heading", { level: 1, name: heading }).waitFor({ timeout: 20_000 });
}

before(async () => {
  if (skip) return;
  mkdirSync(SHOTS, { recursive: true });
  dir = reuse ? "" : await mkdtemp(join(tmpdir(), "hw-dashboard-e2e-"));
  state = reuse ?? join(dir, "state");
  let t0 = Date.now();
  await ok("hwameistor", ["cluster", "up", "--nodes", "3", "--disks-per-node", "1", "--disk-size", "2Gi", "--state-dir", state, "-o", "json"]);
  timings.clusterUpMs = Date.now() - t0;
  t0 = Date.now();
  const client = new KubeClient(loadKubeConfig({ kubeconfigPath: join(state, "kubeconfig") }).kubeConfig);
  kube = client;
  const lvs = hwameistorClients(client).lv;
  const create = (name: string, size: string) =>
    ok("hwameictl", ["volume", "create", name, "--class", "hwameistor-storage-lvm-hdd", "--size", size, "--node", "node-1"]);
  const existing = await lvs.get(VOLUME);
  if (existing) targetBytes = (existing.status?.allocatedCapacityBytes ?? 0) + 256 * MiB;
  // Both at once (CI time). web-mig is small (the xfs minimum), so the block copy of the migration is quick.
  await Promise.all([existing ? undefined : create(VOLUME, "512Mi"), (await lvs.get(MIG)) ? undefined : create(MIG, "300Mi")]);
  timings.volumeCreateMs = Date.now() - t0;
  rest = await startRestServer({ client, port: 0, tls: selfSignedCert([]), auth: { enabled: true, accessId: "admin", secretKey }, uiDir: UI_DIR });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await rest?.close().catch(() => undefined);
  if (!reuse && state && existsSync(state)) {
    const r = await run("hwameistor", ["cluster", "down", "--purge", "--state-dir", state]);
    if (r.code !== 0) console.log(`# cleanup down: ${r.stderr}`);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test(
  "the dashboard: log in, 3 nodes with pools, snapshot, expansion and migration with progress, operation log, accessible",
  { skip, timeout: 420_000 },
  async (t) => {
    const t0 = Date.now();
    const ctx = await browser!.newContext({ ignoreHTTPSErrors: true, bypassCSP: true, reducedMotion: "reduce", viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const consoleErrors: string[] = [];
    page.on("pageerror", (e) => consoleErrors.push(String(e)));

    // Login page (auth is on): a wrong key is refused with the server's message, the right one gets in.
    await page.goto(rest!.url);
    await page.getByRole("heading", { name: "Log in to HwameiStor" }).waitFor();
    await axe(page, "login");
    await shot(page, "01-login");
    await page.getByLabel("Access id").fill("admin");
    await page.getByLabel("Secret key").fill("wrong");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText(/wrong accessId or secretKey/).waitFor();
    await page.getByLabel("Secret key").fill(secretKey);
    await page.getByLabel("Secret key").press("Enter"); // keyboard submit
    await page.getByRole("heading", { level: 1, name: "Cluster overview" }).waitFor();
    await page.getByText("Capacity per node").waitFor();
    await page.getByRole("img", { name: /All pools: \d+% used/ }).waitFor();
    await axe(page, "overview");
    await shot(page, "02-overview");

    // Keyboard: the first Tab reaches the skip link.
    await page.keyboard.press("Tab");
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { document: { activeElement?: { textContent?: string } } }).document.activeElement?.textContent),
      "Skip to content",
    );

    // Nodes: 3 nodes, each Ready with its HDD pool.
    await page.getByRole("link", { name: "Nodes" }).click();
    await page.getByRole("heading", { level: 1, name: "Nodes" }).waitFor();
    for (const n of ["node-1", "node-2", "node-3"]) {
      const row = page.getByTestId(`node-row-${n}`);
      await row.waitFor();
      await row.getByText("LocalStorage_PoolHDD").waitFor();
      await row.getByRole("progressbar", { name: new RegExp(`LocalStorage_PoolHDD on ${n}: \\d+% used`) }).waitFor({ state: "attached" });
    }
    assert.equal(await page.locator("[data-testid^=node-row-]").count(), 3);
    await axe(page, "nodes");
    await shot(page, "03-nodes");
    await goto(page, "nodes/node-1", "Node node-1");
    await page.getByRole("link", { name: VOLUME }).waitFor();
    await axe(page, "node detail");
    await shot(page, "04-node-detail");

    for (const [hash, heading, file] of [
      ["disks", "Disks", "05-disks"],
      ["pools", "Pools", "06-pools"],
      ["volumegroups", "Volume groups", "07-volume-groups"],
    ] as const) {
      await goto(page, hash, heading);
      await page.getByRole("table").first().waitFor();
      await axe(page, heading);
      await shot(page, file);
    }

    // Volume: take a snapshot (with confirmation), see it Ready.
    await goto(page, "volumes", "Volumes");
    await page.getByRole("link", { name: VOLUME }).click();
    await page.getByRole("heading", { level: 1, name: `Volume ${VOLUME}` }).waitFor();
    await page.getByRole("button", { name: "Snapshot" }).click();
    const snapDialog = page.getByRole("dialog", { name: `Snapshot volume ${VOLUME}` });
    await snapDialog.getByLabel("Snapshot name (optional)").fill(SNAP);
    await axe(page, "snapshot dialog");
    await snapDialog.getByRole("button", { name: "Take snapshot" }).click();
    await snapDialog.getByText(`Snapshot ${SNAP} requested; it appears below when ready.`).waitFor();
    await snapDialog.getByRole("button", { name: "Close", exact: true }).click();
    const snapRow = page.getByRole("table", { name: `Snapshots of ${VOLUME}` }).getByRole("row", { name: new RegExp(SNAP) });
    await snapRow.getByText("Ready").waitFor({ timeout: 60_000 });
    await shot(page, "08-volume-snapshot");

    // Expansion: a bad size is refused in the dialog, 768Mi starts; its progress is visible until the volume has grown.
    await page.getByRole("button", { name: "Expand" }).click();
    const expDialog = page.getByRole("dialog", { name: `Expand volume ${VOLUME}` });
    await expDialog.getByLabel("New capacity").fill("100Gi");
    await expDialog.getByRole("button", { name: "Expand volume" }).click();
    await expDialog
      .getByRole("alert")
      .getByText(/cannot grow volume web-vol/)
      .waitFor();
    const human = uiBytes(targetBytes);
    await expDialog.getByLabel("New capacity").fill(`${targetBytes / MiB}Mi`);
    await expDialog.getByRole("button", { name: "Expand volume" }).click();
    await expDialog.getByText(`Expansion to ${human} started; follow it under Operations.`).waitFor();
    await expDialog.getByRole("button", { name: "Close", exact: true }).click();
    const expSeen = await watchOperation(
      page,
      `op-expand-${VOLUME}`,
      "the expansion",
      90_000,
      async () => (await page.getByText(`Capacity ${human}`).count()) > 0,
      "09-volume-expanding",
    );
    t.diagnostic(`expansion progress seen in the page: ${expSeen.join(" → ")}`);
    await axe(page, "volume detail");
    await shot(page, "10-volume-expanded");

    // Migration of web-mig from its node to another, started from its page. An unknown target is refused in the
    // dialog with the server's message (the field, the node, the nodes to choose from); then a real target.
    const lv = await hwameistorClients(kube!).lv.get(MIG);
    const from = lv?.spec?.config?.replicas?.[0]?.hostname ?? "node-1";
    const to = ["node-3", "node-2", "node-1"].find((n) => n !== from)!;
    await goto(page, `volumes/${MIG}`, `Volume ${MIG}`);
    await page.getByRole("button", { name: "Migrate" }).click();
    const migDialog = page.getByRole("dialog", { name: `Migrate volume ${MIG}` });
    await migDialog.getByLabel("From node").selectOption(from);
    await migDialog.getByLabel("To node (optional)").fill("node-9");
    await migDialog.getByRole("button", { name: "Start migration" }).click();
    await migDialog
      .getByRole("alert")
      .getByText(/selectedNode: node node-9 is not a storage node \(LocalStorageNode\): choose one of node-\d, node-\d/)
      .waitFor();
    assert.equal(await hwameistorClients(kube!).lvmigrate.get(MIGRATION), undefined, "a refused migration creates nothing");
    await axe(page, "migrate dialog (refused)");
    await shot(page, "11-migrate-refused");
    await migDialog.getByLabel("To node (optional)").fill(to);
    await migDialog.getByRole("button", { name: "Start migration" }).click();
    await migDialog.getByText("Migration submitted; follow it under Operations.").waitFor();
    await migDialog.getByRole("button", { name: "Close", exact: true }).click();
    const replicaOn = (node: string) => page.getByRole("table", { name: `Replicas of ${MIG}` }).getByRole("link", { name: node, exact: true });
    const migSeen = await watchOperation(
      page,
      `op-migrate-${MIGRATION}`,
      "the migration",
      180_000,
      async () => (await replicaOn(to).count()) === 1 && (await replicaOn(from).count()) === 0,
      "12-volume-migrating",
    );
    t.diagnostic(`migration ${from} → ${to}, progress seen in the page: ${migSeen.join(" → ")}`);
    await noClippedBadge(page, "volume detail");
    await shot(page, "13-volume-migrated");

    // Both operations listed, each its own row (an expansion is named after its volume, a migration may be too).
    await goto(page, "operations", "Operations");
    await page.getByTestId(`op-expand-${VOLUME}`).getByText("Completed").waitFor();
    await page.getByTestId(`op-migrate-${MIGRATION}`).getByText("Completed").waitFor();
    await noClippedBadge(page, "operations");
    await axe(page, "operations");
    await shot(page, "14-operations");
    await goto(page, "snapshots", "Snapshots");
    await page.getByRole("cell", { name: SNAP, exact: true }).waitFor();
    await axe(page, "snapshots");
    await shot(page, "15-snapshots");

    // The operation log: both operations' audit records (hwameistor.io Event, written by the dev cluster's auditor).
    await goto(page, "log", "Operation log");
    for (const [volume, action] of [
      [VOLUME, "Expand"],
      [MIG, "Migrate"],
    ] as const) {
      await page.getByLabel("Resource name").fill(volume);
      for (const state of ["Submit", "Start", "Complete"]) {
        await page
          .getByRole("row", { name: new RegExp(`${volume}\\s+Volume\\s+${action}\\s+${state}\\b`) })
          .first()
          .waitFor({ timeout: 30_000 });
      }
    }
    await axe(page, "operation log");
    await shot(page, "16-operation-log");

    // Phone width: the navigation collapses behind a labelled button; tables scroll sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await goto(page, "", "Cluster overview");
    await page.getByRole("button", { name: "Open navigation" }).click();
    await page.getByRole("link", { name: "Nodes" }).click();
    await page.getByTestId("node-row-node-3").waitFor();
    await noClippedBadge(page, "nodes (phone)");
    await axe(page, "nodes (phone)");
    await shot(page, "17-nodes-phone");
    await fitsWidth(page, "nodes (phone)");
    // The volume page and its Migrate dialog at phone width: the actions wrap, the dialog fits the screen.
    await goto(page, `volumes/${MIG}`, `Volume ${MIG}`);
    await page
      .getByRole("table", { name: `Replicas of ${MIG}` })
      .getByRole("link", { name: to })
      .waitFor();
    // A healthy page shows no lasting error (a poll that failed under load is shown until the next one answers).
    await page
      .getByRole("alert")
      .first()
      .waitFor({ state: "detached", timeout: 15_000 })
      .catch(async () => assert.fail(`a healthy volume page shows an error: ${(await page.getByRole("alert").allInnerTexts()).join(" | ")}`));
    await page.getByRole("button", { name: "Migrate" }).click();
    await page
      .getByRole("dialog", { name: `Migrate volume ${MIG}` })
      .getByLabel("From node")
      .waitFor();
    await axe(page, "migrate dialog (phone)");
    await shot(page, "18-migrate-phone");
    await fitsWidth(page, "volume with the migrate dialog (phone)");
    await page.keyboard.press("Escape");

    // A server error is shown as a message, never a blank page.
    await goto(page, "volumes/no-such-volume", "Volume no-such-volume");
    await page.getByRole("alert").getByText("volume no-such-volume not found").waitFor();
    await shot(page, "19-error");

    assert.deepEqual(consoleErrors, []);
    await ctx.close();
    timings.browserMs = Date.now() - t0;
    t.diagnostic(`timings: ${JSON.stringify(timings)}; screenshots in ${SHOTS}`);
  },
);
