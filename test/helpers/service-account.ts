// Test helper: a pod's service account files as the kubelet mounts them, for in-cluster config tests.
import fs from "node:fs";
import path from "node:path";
import { SERVICE_ACCOUNT_DIR } from "../../src/kube/config.ts";

/** Writes token, ca.crt and namespace under `<root>/var/run/secrets/kubernetes.io/serviceaccount`; returns that dir. */
export function writeServiceAccount(root: string, files: { token: string; ca: string; namespace: string }): string {
  const sa = path.join(root, SERVICE_ACCOUNT_DIR);
  fs.mkdirSync(sa, { recursive: true });
  fs.writeFileSync(path.join(sa, "token"), files.token);
  fs.writeFileSync(path.join(sa, "ca.crt"), files.ca);
  fs.writeFileSync(path.join(sa, "namespace"), files.namespace);
  return sa;
}
