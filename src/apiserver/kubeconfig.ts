// The kubeconfig the embedded API server writes for kubectl and our kube runtime: one cluster, one user with
// the bearer token, context "hwameistor". HTTPS with the server's self-signed certificate as CA: client-go
// never sends a bearer token over plain HTTP (measured with kubectl 1.32).

import { chmodSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";

export const KUBECONFIG_CONTEXT = "hwameistor";

export function kubeconfigYaml(serverUrl: string, token: string, caPem?: string): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: KUBECONFIG_CONTEXT, cluster: { server: serverUrl, ...(caPem ? { "certificate-authority-data": Buffer.from(caPem).toString("base64") } : {}) } },
    ],
    users: [{ name: KUBECONFIG_CONTEXT, user: { token } }],
    contexts: [{ name: KUBECONFIG_CONTEXT, context: { cluster: KUBECONFIG_CONTEXT, user: KUBECONFIG_CONTEXT, namespace: "default" } }],
    "current-context": KUBECONFIG_CONTEXT,
    preferences: {},
  });
}

/** Writes the kubeconfig with mode 0600 (it holds the token). */
export function writeKubeconfig(path: string, serverUrl: string, token: string, caPem?: string): void {
  writeFileSync(path, kubeconfigYaml(serverUrl, token, caPem), { mode: 0o600 });
  chmodSync(path, 0o600); // mode applies only when the file is created
}
