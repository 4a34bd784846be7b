// The image's runtime stage without a Docker engine: the same install steps in a scratch directory — the
// production dependencies only (`npm ci --omit=dev`: no tsx, no typescript), the built dist/, bin/, proto/, the CRDs
// and ui/dist, exactly the paths deploy/Dockerfile copies — then every role started from there: each
// command's --help, the API server serving /healthz, the webhook and the scheduler extender serving /healthz
// over HTTPS against it, the exporter's /healthz, and the REST server serving the dashboard from ui/dist.
// Shortcuts, said plainly: npm ci runs with --ignore-scripts and better-sqlite3's compiled addon is copied
// from the checkout's node_modules (the same version, built by the same install script for the same Node
// ABI): compiling it again costs ~70 s of CPU for nothing this test checks; ui/dist is the checkout's build
// (scripts/install-deps.sh), which the image's ui stage reproduces with the same commands.
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { request as httpRequest } from "node:http";
import { request } from "node:https";
import { after, before, test } from "node:test";
import { createInterface } from "node:readline";
import { DATAPLANE_BIN } from "../../src/devcluster/processes.ts";
import { REPO } from "./helm.ts";

const dir = mkdtempSync(join(tmpdir(), "hw-runtime-stage-"));
const procs: ChildProcess[] = [];
const env = { PATH: process.env.PATH!, HOME: dir }; // no HWAMEISTOR_TSX, no KUBECONFIG
// ui/dist is built by scripts/install-deps.sh (CI runs it); the image's ui stage does the same build.
const UI_BUILT = existsSync(join(REPO, "ui/dist/index.html"));
// dataplane/build is made by scripts/install-deps.sh (make -C dataplane); the image's dataplane stage does the same.
const DATAPLANE_BUILT = existsSync(DATAPLANE_BIN);

before(() => {
  // the runtime stage's COPY lines are what this test lays out
  const docker = readFileSync(join(REPO, "deploy/Dockerfile"), "utf8");
  const runtime = docker.slice(docker.indexOf("AS runtime"));
  const copies = [...runtime.matchAll(/^COPY (?:--from=\S+ )?(\S+) (\S+)$/gm)].map((m) => m[2]);
  assert.deepEqual(copies, [
    "node_modules",
    "dist",
    "package.json",
    "bin",
    "proto",
    "deploy/crds",
    "ui/dist",
    "dataplane/build/hwameistor-dataplane",
    "dataplane/build/hwameistor-copy",
  ]);
  // the data plane stage builds it with the checkout's Makefile (scripts/install-deps.sh: make -C dataplane)
  assert.match(docker, /FROM \S+ AS dataplane\n(?:.*\n)*?RUN make -s -C dataplane\n/);
  // the ui stage builds ui/ from its own lockfile, as scripts/install-deps.sh does in the checkout
  assert.match(docker, /FROM \S+ AS ui\n(?:.*\n)*?RUN npm ci[^\n]*\n(?:.*\n)*?RUN npm run build\n/);
  for (const f of ["package.json", "package-lock.json"]) cpSync(join(REPO, f), join(dir, f));
  execFileSync("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], {
    cwd: dir,
    stdio: "pipe",
    env: { ...process.env, npm_config_loglevel: "error" },
  });
  cpSync(join(REPO, "node_modules/better-sqlite3/build"), join(dir, "node_modules/better-sqlite3/build"), { recursive: true });
  execFileSync(
    join(REPO, "node_modules/.bin/tsc"),
    ["-p", join(REPO, "tsconfig.build.json"), "--outDir", join(dir, "dist"), "--incremental", "false", "--sourceMap", "false"],
    { stdio: "pipe" },
  );
  cpSync(join(REPO, "bin"), join(dir, "bin"), { recursive: true });
  cpSync(join(REPO, "proto"), join(dir, "proto"), { recursive: true });
  cpSync(join(REPO, "deploy/crds"), join(dir, "deploy/crds"), { recursive: true });
  if (UI_BUILT) cpSync(join(REPO, "ui/dist"), join(dir, "ui/dist"), { recursive: true });
  if (DATAPLANE_BUILT) cpSync(DATAPLANE_BIN, join(dir, "dataplane/build/hwameistor-dataplane"));
  if (DATAPLANE_BUILT) cpSync(join(REPO, "dataplane/build/hwameistor-copy"), join(dir, "dataplane/build/hwameistor-copy"));
});
after(() => {
  for (const p of procs) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const hw = (args: string[]) => execFileSync(join(dir, "bin/hwameistor"), args, { env, encoding: "utf8", stdio: "pipe" });

test("production install: no TypeScript tooling in node_modules, dist/ is JavaScript", () => {
  for (const dev of ["tsx", "typescript", "eslint", "kubernetes-models"])
    assert.ok(!existsSync(join(dir, "node_modules", dev)), `${dev} installed in the runtime stage`);
  assert.ok(existsSync(join(dir, "dist/cli/main.js")));
  assert.ok(existsSync(join(dir, "proto/csi.proto")));
});

test("every role answers --help from the runtime layout", () => {
  const roles = ["apiserver", "node", "controller", "cluster", "exporter", "rest", "kube-controllers", "webhook", "scheduler-extender"];
  const top = hw(["--help"]);
  for (const r of roles) {
    assert.match(top, new RegExp(`\\b${r}\\b`), `hwameistor --help lists ${r}`);
    assert.match(hw([r, "--help"]), new RegExp(`Usage: hwameistor ${r}`));
  }
  assert.match(hw(["cluster", "operator", "--help"]), /Usage: hwameistor cluster operator/);
  assert.match(execFileSync(join(dir, "bin/hwameictl"), ["--help"], { env, encoding: "utf8" }), /Usage: hwameictl/);
});

test(
  "the data plane and the migration copier answer --help from the runtime layout, and the runtime stage installs every library they link",
  { skip: DATAPLANE_BUILT ? false : "dataplane not built in this checkout: run scripts/install-deps.sh (or make -C dataplane)" },
  () => {
    const bin = join(dir, "dataplane/build/hwameistor-dataplane");
    const copier = join(dir, "dataplane/build/hwameistor-copy");
    assert.match(execFileSync(bin, ["--help"], { env, encoding: "utf8" }), /usage: hwameistor-dataplane --node NAME/);
    assert.match(execFileSync(copier, ["--help"], { env, encoding: "utf8" }), /usage: hwameistor-copy send\|recv\|checksum/);
    const docker = readFileSync(join(REPO, "deploy/Dockerfile"), "utf8");
    const runtimeApt = /AS runtime\n(?:.*\n)*?RUN apt-get update[^\n]*\n((?:.*\\\n)+)/.exec(docker)![1]!;
    const packages = new Set(runtimeApt.split(/\s+/).filter((w) => /^[a-z0-9][a-z0-9.+-]+$/.test(w)));
    // each shared library the binary links (but libc, which the base image has), by the Debian package that owns it
    const libs = [...execFileSync("ldd", [bin, copier], { encoding: "utf8" }).matchAll(/=> (\/\S+)/g)].map((m) => m[1]!).filter((l) => !/\/libc\.so/.test(l));
    assert.ok(libs.length >= 2, `ldd names libfuse3 and liburing: ${libs.join(" ")}`);
    for (const lib of libs) {
      // by the file's own name: merged /usr lists some under /lib, some under /usr/lib
      const owner = execFileSync("dpkg", ["-S", `*/${basename(realpathSync(lib))}`], { encoding: "utf8" }).split(":")[0]!;
      assert.ok(packages.has(owner), `${lib} comes from the Debian package ${owner}: add it to the runtime stage's apt-get install`);
    }
  },
);

/** Starts a role; resolves its ready line. */
function start(args: string[]): Promise<Record<string, any>> {
  const p = spawn(join(dir, "bin/hwameistor"), args, { env, stdio: ["ignore", "pipe", "pipe"] });
  procs.push(p);
  let err = "";
  p.stderr!.on("data", (d) => (err = (err + d).slice(-4000)));
  return new Promise((resolve, reject) => {
    createInterface({ input: p.stdout! }).once("line", (l) => resolve(JSON.parse(l)));
    p.once("exit", (code) => reject(new Error(`hwameistor ${args.join(" ")} exited ${code}: ${err}`)));
  });
}

const httpsGet = (port: number, path: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const r = request({ host: "127.0.0.1", port, path, rejectUnauthorized: false }, (res) => {
      let b = "";
      res.on("data", (d) => (b += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: b }));
    });
    r.on("error", reject);
    r.end();
  });

test("the API server, the webhook and the scheduler extender serve from the runtime layout", { timeout: 120_000 }, async () => {
  const api = await start(["apiserver", "--data-dir", join(dir, "api"), "--port", "0", "--log-level", "warn"]);
  const port = Number(new URL(api.url).port);
  // bin/hwameistor's interpreter line gives node the 1 MiB semi-space and the 25 % old-generation growth: V8
  // sizes its heap when it starts, so the flags must be on node's command line (set from JavaScript, as the
  // launcher once did, they changed nothing)
  const argv = readFileSync(`/proc/${procs.at(-1)!.pid}/cmdline`, "utf8").split("\0");
  for (const flag of ["--max-semi-space-size=1", "--heap-growing-percent=25"]) {
    const flagAt = argv.indexOf(flag);
    assert.ok(flagAt > 0 && flagAt < argv.indexOf(join(dir, "bin/hwameistor")), `node's flag ${flag} comes before the launcher: ${argv.join(" ")}`);
  }
  assert.equal((await httpsGet(port, "/healthz")).body, "ok");
  const kc = ["--kubeconfig", api.kubeconfig];
  const wh = await start(["webhook", ...kc, "--namespace", "default", "--host", "127.0.0.1", "--port", "0", "--log-level", "warn"]);
  assert.equal((await httpsGet(wh.port, "/healthz")).body, "ok");
  const ext = await start(["scheduler-extender", ...kc, "--port", "0", "--log-level", "warn"]);
  assert.equal((await httpsGet(ext.port, "/healthz")).body, "ok");
  const exp = await start(["exporter", ...kc, "--port", "0", "--log-level", "warn"]);
  assert.equal((await httpGet(exp.port, "/healthz")).trim(), "ok");
});

test(
  "the REST server serves the dashboard from the runtime layout's ui/dist (its default --ui-dir)",
  { timeout: 120_000, skip: UI_BUILT ? false : "ui/dist not built in this checkout: run scripts/install-deps.sh (or npm run build:ui)" },
  async () => {
    const api = await start(["apiserver", "--data-dir", join(dir, "api2"), "--port", "0", "--log-level", "warn"]);
    const rest = await start(["rest", "--kubeconfig", api.kubeconfig, "--port", "0", "--data-dir", join(dir, "rest"), "--no-auth", "--log-level", "warn"]);
    const port = Number(new URL(rest.url).port);
    const page = await httpsGet(port, "/");
    assert.equal(page.status, 200);
    assert.match(page.body, /<div id="root">/);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    assert.ok(asset, "index.html names its script");
    assert.equal((await httpsGet(port, asset)).status, 200);
  },
);

const httpGet = (port: number, path: string) =>
  new Promise<string>((resolve, reject) => {
    const r = httpRequest({ host: "127.0.0.1", port, path }, (res) => {
      let b = "";
      res.on("data", (d) => (b += d));
      res.on("end", () => resolve(b));
    });
    r.on("error", reject);
    r.end();
  });
