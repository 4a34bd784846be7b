import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { HwError } from "../api/errors.ts";
import { KubeConfig, kubeConfigForServer } from "./kubeconfig.ts";
import { writeServiceAccount } from "../../test/helpers/service-account.ts";
import { loadKubeConfig } from "./config.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString("base64");

function kubeconfig(user: string, cluster = "server: https://k:6443", extra = ""): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: c",
    "  cluster:",
    ...cluster.split("\n").map((l) => "    " + l),
    "users:",
    "- name: u",
    "  user:",
    ...user.split("\n").map((l) => "    " + l),
    "contexts:",
    "- name: x",
    "  context: {cluster: c, user: u, namespace: ns}",
    extra,
    "current-context: x",
  ].join("\n");
}

test("data fields are base64-decoded and win; tokens become a Bearer header", () => {
  const kc = KubeConfig.fromYaml(
    kubeconfig(
      `token: abc\nclient-certificate-data: ${b64("CERT")}\nclient-key-data: ${b64("KEY")}`,
      `server: https://k:6443/\ncertificate-authority-data: ${b64("CA")}\ntls-server-name: api.internal`,
    ),
  );
  const c = kc.connectionOptions();
  assert.equal(c.server, "https://k:6443");
  assert.deepEqual(c.tls, { ca: "CA", cert: "CERT", key: "KEY", rejectUnauthorized: true, servername: "api.internal" });
  assert.deepEqual(c.headers, { Authorization: "Bearer abc" });
  assert.equal(kc.getContextObject("x")?.namespace, "ns");
});

test("file fields are resolved against the kubeconfig's directory and re-read (rotation)", () => {
  const dir = path.join(tmp, "files");
  fs.mkdirSync(path.join(dir, "pki"), { recursive: true });
  fs.writeFileSync(path.join(dir, "pki", "ca.crt"), "CAFILE");
  fs.writeFileSync(path.join(dir, "pki", "c.crt"), "CERTFILE");
  fs.writeFileSync(path.join(dir, "pki", "c.key"), "KEYFILE");
  fs.writeFileSync(path.join(dir, "token"), "t1\n");
  const file = path.join(dir, "config");
  fs.writeFileSync(
    file,
    kubeconfig("tokenFile: token\nclient-certificate: pki/c.crt\nclient-key: pki/c.key", "server: https://k:6443\ncertificate-authority: pki/ca.crt"),
  );
  const kc = KubeConfig.fromFile(file);
  assert.equal(kc.getCurrentCluster()?.caFile, path.join(dir, "pki", "ca.crt"));
  assert.equal(kc.getCurrentUser()?.tokenFile, path.join(dir, "token"));
  const c = kc.connectionOptions();
  assert.equal(c.tls.ca, "CAFILE");
  assert.equal(c.tls.cert, "CERTFILE");
  assert.equal(c.tls.key, "KEYFILE");
  assert.equal(c.headers.Authorization, "Bearer t1");
  fs.writeFileSync(path.join(dir, "token"), "t2");
  assert.equal(kc.connectionOptions().headers.Authorization, "Bearer t2");
  fs.rmSync(path.join(dir, "pki", "ca.crt"));
  assert.throws(
    () => kc.connectionOptions(),
    (e: HwError) => e.reason === "BadKubeconfig" && /certificate-authority/.test(e.message),
  );
});

test("basic auth, insecure-skip-tls-verify, anonymous", () => {
  const kc = KubeConfig.fromYaml(kubeconfig("username: admin\npassword: p@ss", "server: https://k:6443\ninsecure-skip-tls-verify: true"));
  const c = kc.connectionOptions();
  assert.equal(c.headers.Authorization, "Basic " + b64("admin:p@ss"));
  assert.equal(c.tls.rejectUnauthorized, false);
  assert.deepEqual(KubeConfig.fromYaml(kubeconfig("{}")).connectionOptions().headers, {});
  assert.deepEqual(kubeConfigForServer("http://127.0.0.1:1", "tok").connectionOptions().headers, { Authorization: "Bearer tok" });
});

test("missing or unknown context is BadKubeconfig / NoSuchContext", () => {
  const noCurrent = KubeConfig.fromYaml(kubeconfig("token: a").replace("current-context: x", "current-context: y"));
  assert.throws(
    () => noCurrent.validate(),
    (e: HwError) => e.reason === "BadKubeconfig" && /"y"/.test(e.message),
  );
  assert.throws(
    () => noCurrent.withContext("nope"),
    (e: HwError) => e.reason === "NoSuchContext",
  );
  assert.equal(noCurrent.withContext("x").getCurrentCluster()?.server, "https://k:6443");
  const file = path.join(tmp, "nocontext.yaml");
  fs.writeFileSync(file, "apiVersion: v1\nclusters: [{name: c, cluster: {server: https://k}}]\n");
  assert.throws(
    () => loadKubeConfig({ kubeconfigPath: file }),
    (e: HwError) => e.reason === "BadKubeconfig" && /current-context/.test(e.message),
  );
  assert.throws(
    () => loadKubeConfig({ kubeconfigPath: file, context: "x" }),
    (e: HwError) => e.reason === "NoSuchContext",
  );
  assert.throws(
    () => KubeConfig.fromYaml("clusters: 3"),
    (e: HwError) => e.reason === "BadKubeconfig",
  );
});

test("exec credential plugins and auth-provider are refused, naming the user and the fix", () => {
  const exec = KubeConfig.fromYaml(kubeconfig("exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: aws"));
  assert.throws(
    () => exec.connectionOptions(),
    (e: HwError) => e.reason === "UnsupportedKubeconfig" && /user "u"/.test(e.message) && /exec/.test(e.message) && /token/.test(e.hint ?? ""),
  );
  const ap = KubeConfig.fromYaml(kubeconfig("auth-provider:\n  name: oidc"));
  assert.throws(
    () => ap.validate(),
    (e: HwError) => /user "u".*auth-provider "oidc"/.test(e.message),
  );
  const file = path.join(tmp, "exec.yaml");
  fs.writeFileSync(file, kubeconfig("exec: {command: gke-gcloud-auth-plugin}"));
  assert.throws(
    () => loadKubeConfig({ kubeconfigPath: file }),
    (e: HwError) => e.reason === "UnsupportedKubeconfig",
  );
  // An exec user that the current context does not use does not matter.
  const other = KubeConfig.fromYaml(
    [
      "clusters: [{name: c, cluster: {server: https://k}}]",
      "users: [{name: u, user: {token: a}}, {name: gke, user: {exec: {command: gke-gcloud-auth-plugin}}}]",
      "contexts: [{name: x, context: {cluster: c, user: u}}, {name: y, context: {cluster: c, user: gke}}]",
      "current-context: x",
    ].join("\n"),
  );
  assert.equal(other.connectionOptions().headers.Authorization, "Bearer a");
  assert.throws(
    () => other.withContext("y").validate(),
    (e: HwError) => /user "gke"/.test(e.message),
  );
});

test("in-cluster: IPv6 host in brackets, CA file, token re-read, namespace file", () => {
  const root = path.join(tmp, "sa");
  const sa = writeServiceAccount(root, { token: "tok1", ca: "SACA", namespace: "hwameistor\n" });
  const l = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, serviceAccountRoot: root, homeDir: tmp });
  assert.equal(l.source, "in-cluster");
  assert.equal(l.namespace, "hwameistor");
  const c = l.kubeConfig.connectionOptions();
  assert.equal(c.server, "https://[fd00::1]:443");
  assert.equal(c.tls.ca, "SACA");
  assert.equal(c.headers.Authorization, "Bearer tok1");
  fs.writeFileSync(path.join(sa, "token"), "tok2");
  assert.equal(l.kubeConfig.connectionOptions().headers.Authorization, "Bearer tok2");
  assert.equal(KubeConfig.inCluster("10.96.0.1", "6443", sa).getCurrentCluster()?.server, "https://10.96.0.1:6443");
});
