// The webhook's own certificates: a CA (10 years) and a serving certificate it signs (1 year) for the
// Service's DNS names, kept in Secret hwameistor-admission-ca (keys ca.crt, ca.key, tls.crt, tls.key) so that
// every replica serves the same ones, and the CA written into the MutatingWebhookConfiguration's caBundle.
// `ensureCertificates` is idempotent and safe to run from every replica at once: the first create wins
// (AlreadyExists → read theirs), renewals are updates with resourceVersion (Conflict → read theirs).
// Renewal: the serving certificate when it has less than `renewBeforeMs` left or its names changed (the CA,
// and so the caBundle, stay); the CA itself when it has less than that left (then the caBundle changes, and
// until every API server sees the new bundle calls may fail: with failurePolicy Ignore, pods pass unchanged).

import { X509Certificate } from "node:crypto";
import { ObjectNames } from "../api/names.ts";
import type { KubeClient } from "../kube/client.ts";
import { MUTATING_WEBHOOK_CONFIGURATION, SECRET } from "../kube/resources.ts";
import { isAlreadyExists, isConflict } from "../kube/transport.ts";
import type { KubeObject, Logger } from "../kube/types.ts";
import { issueCertificate, validFor, type CertificatePem } from "../host/tls/x509.ts";

export const CA_VALID_DAYS = 3650;
export const SERVING_VALID_DAYS = 365;
export const DEFAULT_RENEW_BEFORE_MS = 30 * 24 * 3600_000;

export interface WebhookCerts {
  ca: CertificatePem;
  serving: CertificatePem;
}

export interface CertOptions {
  namespace: string;
  service: string;
  /** Secret name (default hwameistor-admission-ca). */
  secret?: string;
  /** MutatingWebhookConfiguration whose webhooks get the caBundle; empty: none. */
  webhookConfig?: string;
  /** More names/IPs in the serving certificate (tests, the dev cluster). */
  extraHosts?: string[];
  renewBeforeMs?: number;
  now?: () => Date;
  log: Logger;
}

type Secret = KubeObject & { type?: string; data?: Record<string, string> };

export const serviceHosts = (service: string, namespace: string): string[] => [
  service,
  `${service}.${namespace}`,
  `${service}.${namespace}.svc`,
  `${service}.${namespace}.svc.cluster.local`,
];

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, "base64").toString("utf8") : "");

function fromSecret(s: Secret | undefined): WebhookCerts | undefined {
  const d = s?.data ?? {};
  const certs = { ca: { certPem: unb64(d["ca.crt"]), keyPem: unb64(d["ca.key"]) }, serving: { certPem: unb64(d["tls.crt"]), keyPem: unb64(d["tls.key"]) } };
  return certs.ca.certPem && certs.ca.keyPem && certs.serving.certPem && certs.serving.keyPem ? certs : undefined;
}

function coversHosts(certPem: string, hosts: string[]): boolean {
  try {
    const x = new X509Certificate(certPem);
    return hosts.every((h) => (/^[\d.]+$|:/.test(h) ? x.checkIP(h) !== undefined : x.checkHost(h) !== undefined));
  } catch {
    return false;
  }
}

function signedBy(certPem: string, ca: string): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(ca).publicKey);
  } catch {
    return false;
  }
}

/** What the Secret should hold now: `current` if still good, else renewed parts. */
export function renewed(current: WebhookCerts | undefined, hosts: string[], renewBeforeMs: number, now: Date): WebhookCerts | undefined {
  let ca = current?.ca;
  let changed = false;
  if (!ca || !validFor(ca.certPem, renewBeforeMs, now)) {
    ca = issueCertificate({ commonName: "hwameistor-admission-ca", isCA: true, serverAuth: false, validDays: CA_VALID_DAYS, now });
    changed = true;
  }
  let serving = current?.serving;
  if (changed || !serving || !validFor(serving.certPem, renewBeforeMs, now) || !coversHosts(serving.certPem, hosts) || !signedBy(serving.certPem, ca.certPem)) {
    serving = issueCertificate({ commonName: hosts[0]!, hosts, validDays: SERVING_VALID_DAYS, issuer: ca, now });
    changed = true;
  }
  return changed ? { ca, serving } : undefined;
}

/** Makes sure the Secret holds valid certificates for the Service and the webhook trusts the CA; returns them. */
export async function ensureCertificates(client: KubeClient, o: CertOptions): Promise<WebhookCerts> {
  const secrets = client.forKind<Secret>(SECRET);
  const name = o.secret ?? ObjectNames.AdmissionCaSecret;
  const hosts = [...serviceHosts(o.service, o.namespace), ...(o.extraHosts ?? [])];
  const renewBeforeMs = o.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS;
  let certs: WebhookCerts | undefined;
  for (let attempt = 0; attempt < 5 && !certs; attempt++) {
    const s = await secrets.get(name, o.namespace);
    const current = fromSecret(s);
    const next = renewed(current, hosts, renewBeforeMs, o.now?.() ?? new Date());
    if (!next) {
      certs = current;
      break;
    }
    const data = { "ca.crt": b64(next.ca.certPem), "ca.key": b64(next.ca.keyPem), "tls.crt": b64(next.serving.certPem), "tls.key": b64(next.serving.keyPem) };
    try {
      if (!s) {
        // Another replica may create it between our get and create: AlreadyExists → read theirs.
        await secrets.create({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace: o.namespace }, type: "Opaque", data } as Secret, o.namespace);
      } else {
        await secrets.update({ ...s, data });
      }
      o.log.info({ secret: `${o.namespace}/${name}`, caRenewed: next.ca !== current?.ca }, "webhook certificates written");
      certs = next;
    } catch (e) {
      if (isAlreadyExists(e) || isConflict(e)) continue;
      throw e;
    }
  }
  if (!certs) throw new Error(`Secret ${o.namespace}/${name}: could not settle the certificates after 5 attempts (conflicting writers)`);
  if (o.webhookConfig) await ensureCaBundle(client, o.webhookConfig, certs.ca.certPem, o.log);
  return certs;
}

/** Writes the CA into every webhook of the configuration whose caBundle differs. */
export async function ensureCaBundle(client: KubeClient, configName: string, caPem: string, log: Logger): Promise<void> {
  const mwcs = client.forKind<KubeObject & { webhooks?: Array<{ name: string; clientConfig?: { caBundle?: string } }> }>(MUTATING_WEBHOOK_CONFIGURATION);
  const bundle = b64(caPem);
  for (let attempt = 0; ; attempt++) {
    const mwc = await mwcs.get(configName);
    if (!mwc) {
      log.warn(
        { mutatingWebhookConfiguration: configName },
        "MutatingWebhookConfiguration not found: no caBundle to write (the API server will not call this webhook)",
      );
      return;
    }
    const ops = (mwc.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig?.caBundle === bundle ? [] : [{ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: bundle }],
    );
    if (!ops.length) return;
    try {
      // test guards against a concurrent change of the list between our get and patch
      await mwcs.patch(configName, [{ op: "test", path: "/metadata/resourceVersion", value: mwc.metadata?.resourceVersion }, ...ops], { type: "json" });
    } catch (e) {
      // Another replica wrote it between our get and patch (the test failed): read again and see.
      const now = await mwcs.get(configName);
      if (attempt < 4 && now?.metadata?.resourceVersion !== mwc.metadata?.resourceVersion) continue;
      throw e;
    }
    log.info({ mutatingWebhookConfiguration: configName, webhooks: ops.length }, "caBundle written");
    return;
  }
}
