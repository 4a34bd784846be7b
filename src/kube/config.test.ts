import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { HwError } from "../api/errors.ts";
import { writeServiceAccount } from "../../test/helpers/service-account.ts";
import { loadKubeConfig } from "./config.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kube-config-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeKubeconfig(file: string, server: string, ns?: string) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{name: c, cluster: {server: " + server + "}}]",
      "users: [{name: u, user: {token: t}}]",
      `contexts: [{name: x, context: {cluster: c, user: u${ns ? ", namespace: " + ns : ""}}}]`,
      "current-context: x",
    ].join("\n"),
  );
}

const flagFile = path.join(tmp, "flag.yaml");
const envFile = path.join(tmp, "env.yaml");
const home = path.join(tmp, "home");
writeKubeconfig(flagFile, "https://flag:6443", "ns1");
writeKubeconfig(envFile, "https://env:6443");
writeKubeconfig(path.join(home, ".kube", "config"), "https://home:6443");

test("explicit path wins, then KUBECONFIG, then in-cluster, then ~/.kube/config", () => {
  const env = { KUBECONFIG: envFile };
  const a = loadKubeConfig({ kubeconfigPath: flagFile, env, homeDir: home });
  assert.equal(a.kubeConfig.getCurrentCluster()?.server, "https://flag:6443");
  assert.equal(a.namespace, "ns1");
  assert.equal(a.source, `flag:${flagFile}`);

  const b = loadKubeConfig({ env, homeDir: home });
  assert.equal(b.kubeConfig.getCurrentCluster()?.server, "https://env:6443");
  assert.equal(b.namespace, "default");

  const root = path.join(tmp, "sa");
  writeServiceAccount(root, { token: "tok", ca: "", namespace: "hwameistor" });
  const c = loadKubeConfig({
    env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" },
    homeDir: home,
    serviceAccountRoot: root,
  });
  assert.equal(c.source, "in-cluster");
  assert.equal(c.kubeConfig.getCurrentCluster()?.server, "https://10.0.0.1:443");
  assert.equal(c.namespace, "hwameistor");

  const d = loadKubeConfig({ env: {}, homeDir: home, serviceAccountRoot: path.join(tmp, "nothing") });
  assert.equal(d.kubeConfig.getCurrentCluster()?.server, "https://home:6443");
});

test("a missing KUBECONFIG entry falls through; nothing found names every source tried", () => {
  const e = (() => {
    try {
      loadKubeConfig({
        env: { KUBECONFIG: path.join(tmp, "nope.yaml") },
        homeDir: path.join(tmp, "empty-home"),
        serviceAccountRoot: path.join(tmp, "nothing"),
      });
    } catch (err) {
      return err;
    }
  })() as HwError;
  assert.ok(e instanceof HwError);
  assert.equal(e.code, "NOT_FOUND");
  assert.match(e.message, /nope\.yaml/);
  assert.match(e.message, /in-cluster/);
  assert.match(e.message, /empty-home/);
  assert.ok(e.hint);
});

test("an explicit path that is missing or broken is an error, not a fall-through", () => {
  assert.throws(() => loadKubeConfig({ kubeconfigPath: path.join(tmp, "missing.yaml"), homeDir: home }), /--kubeconfig/);
  const bad = path.join(tmp, "bad.yaml");
  fs.writeFileSync(bad, "clusters: [\n");
  assert.throws(
    () => loadKubeConfig({ kubeconfigPath: bad, homeDir: home }),
    (e: HwError) => e.reason === "BadKubeconfig",
  );
});
