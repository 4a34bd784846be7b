// Where a process finds its API server: an explicit --kubeconfig path, then $KUBECONFIG (first existing file
// of a path list; simplification: lists are not merged like kubectl does), then the in-cluster service
// account, then ~/.kube/config. The first source that exists wins; if it exists but is broken, that is the
// error (falling through to another cluster would be surprising). If none exists, the error names them all.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KubeConfig } from "./kubeconfig.ts";
import { HwError } from "../api/errors.ts";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface LoadKubeConfigOptions {
  /** An explicit path (the --kubeconfig flag). When given and unreadable, nothing else is tried. */
  kubeconfigPath?: string;
  /** Override the context to use. */
  context?: string;
  /** For tests: environment, home directory and service-account directory. */
  env?: NodeJS.ProcessEnv;
  homeDir?: string;
  /** Root under which /var/run/secrets/kubernetes.io/serviceaccount is looked up (default "", i.e. /). */
  serviceAccountRoot?: string;
}

export interface LoadedKubeConfig {
  kubeConfig: KubeConfig;
  /** Which source was used: "flag:<path>", "env:<path>", "in-cluster", "home:<path>". */
  source: string;
  /** The namespace of the current context (or the service account's), "default" when unset. */
  namespace: string;
}

export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const env = opts.env ?? process.env;
  const tried: string[] = [];

  const fromFile = (file: string, source: string): LoadedKubeConfig => {
    let kc: KubeConfig;
    try {
      kc = KubeConfig.fromFile(file);
    } catch (e) {
      throw new HwError("INVALID_ARGUMENT", "BadKubeconfig", `kubeconfig ${file} (${source}) cannot be loaded: ${(e as Error).message}`, {
        cause: e,
        hint: "fix the file or point --kubeconfig at another one",
      });
    }
    return finish(kc, `${source}:${file}`);
  };

  const finish = (loaded: KubeConfig, source: string): LoadedKubeConfig => {
    const kc = opts.context ? loaded.withContext(opts.context) : loaded;
    // Fails now, not at the first request: no cluster, exec plugin / auth-provider, proxy-url.
    kc.validate();
    const ctx = kc.getContextObject(kc.getCurrentContext());
    return { kubeConfig: kc, source, namespace: ctx?.namespace?.trim() || "default" };
  };

  if (opts.kubeconfigPath) {
    if (!fs.existsSync(opts.kubeconfigPath)) {
      throw new HwError("NOT_FOUND", "NoKubeconfig", `kubeconfig ${opts.kubeconfigPath} (--kubeconfig) does not exist`);
    }
    return fromFile(opts.kubeconfigPath, "flag");
  }

  const envList = (env.KUBECONFIG ?? "").split(path.delimiter).filter(Boolean);
  for (const f of envList) {
    if (fs.existsSync(f)) return fromFile(f, "env");
    tried.push(`$KUBECONFIG ${f} (missing)`);
  }
  if (!envList.length) tried.push("$KUBECONFIG (unset)");

  const prefix = opts.serviceAccountRoot ?? "";
  const saDir = prefix + SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host && port && fs.existsSync(path.join(saDir, "token"))) {
    const kc = KubeConfig.inCluster(host, port, saDir);
    return finish(kc, "in-cluster");
  }
  tried.push(host && port ? `in-cluster (no token in ${saDir})` : "in-cluster (KUBERNETES_SERVICE_HOST/PORT unset)");

  const home = opts.homeDir ?? env.HOME ?? os.homedir();
  const homeFile = path.join(home, ".kube", "config");
  if (fs.existsSync(homeFile)) return fromFile(homeFile, "home");
  tried.push(`${homeFile} (missing)`);

  throw new HwError("NOT_FOUND", "NoKubeconfig", `no Kubernetes API server configured; tried: ${tried.join("; ")}`, {
    hint: "pass --kubeconfig, set KUBECONFIG, or start `hwameistor apiserver` and use the kubeconfig it writes",
  });
}

export * from "./kubeconfig.ts";
