// `hwameistor webhook`: the admission webhook (fact sheet §4.2) — certificates (certs.ts), the decision
// (mutate.ts), the HTTPS server (server.ts) — against the cluster's API server. docs/webhook.md.

import { ObjectNames } from "../api/names.ts";
import type { Pv, Pvc, StorageClassShape } from "../api/core.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { PV, PVC, STORAGE_CLASS } from "../kube/resources.ts";
import type { KubeObject, Logger } from "../kube/types.ts";
import { DEFAULT_RENEW_BEFORE_MS, ensureCertificates } from "./certs.ts";
import type { VolumeLookup } from "./mutate.ts";
import { startWebhookServer } from "./server.ts";

export interface WebhookOptions {
  kubeconfig?: string;
  client?: KubeClient;
  host: string;
  port: number;
  path: string;
  namespace: string;
  service: string;
  secret?: string;
  webhookConfig?: string;
  schedulerName: string;
  failurePolicy: "Ignore" | "Fail";
  extraHosts?: string[];
  /** How often certificates are checked (and renewed when due). */
  checkIntervalMs?: number;
  renewBeforeMs?: number;
  log: Logger;
}

export interface RunningWebhook {
  port: number;
  caPem(): string;
  stop(): Promise<void>;
}

export function kubeLookup(client: KubeClient): VolumeLookup {
  const pvcs = client.forKind<Pvc & KubeObject>(PVC);
  const pvs = client.forKind<Pv & KubeObject>(PV);
  const scs = client.forKind<StorageClassShape & KubeObject>(STORAGE_CLASS);
  return { pvc: (ns, name) => pvcs.get(name, ns), pv: (name) => pvs.get(name), storageClass: (name) => scs.get(name) };
}

export async function startWebhook(o: WebhookOptions): Promise<RunningWebhook> {
  const client = o.client ?? new KubeClient(loadKubeConfig({ kubeconfigPath: o.kubeconfig }).kubeConfig);
  const certOpts = {
    namespace: o.namespace,
    service: o.service,
    secret: o.secret ?? ObjectNames.AdmissionCaSecret,
    webhookConfig: o.webhookConfig,
    extraHosts: o.extraHosts,
    renewBeforeMs: o.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS,
    log: o.log,
  };
  let certs = await ensureCertificates(client, certOpts);
  const server = await startWebhookServer({
    host: o.host,
    port: o.port,
    path: o.path,
    cert: certs.serving,
    lookup: kubeLookup(client),
    schedulerName: o.schedulerName,
    failurePolicy: o.failurePolicy,
    // the namespaces the original labels hwameistor.io/webhook=ignore at start
    skipNamespaces: ["kube-system", o.namespace],
    log: o.log,
  });
  const timer = setInterval(() => {
    ensureCertificates(client, certOpts).then(
      (c) => {
        if (c.serving.certPem !== certs.serving.certPem) {
          server.setCertificate(c.serving);
          o.log.info({}, "serving certificate renewed");
        }
        certs = c;
      },
      (e: unknown) => o.log.error({ err: String(e) }, "certificate check failed; will retry"),
    );
  }, o.checkIntervalMs ?? 3600_000);
  timer.unref();
  o.log.info({ port: server.port, path: o.path, schedulerName: o.schedulerName, failurePolicy: o.failurePolicy }, "admission webhook serving");
  return {
    port: server.port,
    caPem: () => certs.ca.certPem,
    stop: async () => {
      clearInterval(timer);
      await server.close();
    },
  };
}
