// The real `helm` (from the npm package that ships it, scripts/get-helm.sh) and chart rendering for tests.
// eslint-disable-next-line no-restricted-imports -- tests run helm directly
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";

export const REPO = resolve(import.meta.dirname, "../..");
export const CHART = join(REPO, "deploy/helm/hwameistor");
export const PROD_VALUES = join(CHART, "values.extra.prod.yaml");
export const EVERY_OPTION_VALUES = join(CHART, "ci/every-option-values.yaml");
const HELM = join(REPO, ".tools/helm/helm");

/** Path of the helm binary; fetched with scripts/get-helm.sh when missing. */
export function helm(): string {
  if (!existsSync(HELM)) execFileSync("bash", [join(REPO, "scripts/get-helm.sh")], { stdio: "inherit" });
  return HELM;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
}

export interface RenderOptions {
  values?: string[];
  set?: string[];
  namespace?: string;
  kubeVersion?: string;
}

const args = (o: RenderOptions) => [...(o.values ?? []).flatMap((f) => ["-f", f]), ...(o.set ?? []).flatMap((s) => ["--set", s])];

/** helm template → objects (CRDs included). Throws with helm's stderr on failure. */
export function render(o: RenderOptions = {}): K8sObject[] {
  const r = spawnSync(
    helm(),
    ["template", "hw", CHART, "-n", o.namespace ?? "hwameistor", "--include-crds", "--kube-version", o.kubeVersion ?? "1.32.0", ...args(o)],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr.trim());
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(r.stdout)) {
    if (doc.errors.length) throw new Error(`helm output is not YAML: ${doc.errors[0]!.message}`);
    const obj = doc.toJS();
    if (obj) out.push(obj as K8sObject);
  }
  return out;
}

/** helm template's error text ("" when it rendered). */
export function renderError(o: RenderOptions): string {
  try {
    render(o);
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}

export function lint(o: RenderOptions = {}): { ok: boolean; output: string } {
  const r = spawnSync(helm(), ["lint", CHART, "--strict", "--namespace", o.namespace ?? "hwameistor", ...args(o)], { encoding: "utf8" });
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}

export const find = (objs: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`rendered chart has no ${kind} ${name}`);
  return o;
};

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: any }>;
  volumeMounts?: Array<{ name: string; mountPath: string; mountPropagation?: string; readOnly?: boolean }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  [k: string]: any;
}

export const podSpecOf = (o: K8sObject): any => o.spec.template.spec;
export const containersOf = (o: K8sObject): Container[] => podSpecOf(o).containers;
export const containerOf = (o: K8sObject, name: string): Container => {
  const c = containersOf(o).find((x) => x.name === name);
  if (!c) throw new Error(`${o.kind} ${o.metadata.name} has no container ${name}`);
  return c;
};

/** The argv a container runs (command + args), with $(VAR) expanded from `env` the way the kubelet does. */
export function argvOf(c: Container, env: Record<string, string>): string[] {
  const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m);
  return [...(c.command ?? []), ...(c.args ?? [])].map(expand);
}

/**
 * The container's environment: literal values, downward-API fields from `fields` (e.g. spec.nodeName), and
 * secretKeyRef values from the rendered Secrets in `objs` (as the kubelet reads them from the API server).
 */
export function envOf(c: Container, fields: Record<string, string>, objs: K8sObject[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const data = objs.find((o) => o.kind === "Secret" && o.metadata.name === name)?.data?.[key];
      if (data === undefined) throw new Error(`container ${c.name}: env ${e.name}: the chart renders no Secret ${name} with key ${key}`);
      out[e.name] = Buffer.from(data, "base64").toString();
    } else if (e.valueFrom?.fieldRef) {
      const v = fields[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`container ${c.name}: no test value for fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
      out[e.name] = v;
    } else throw new Error(`container ${c.name}: env ${e.name} has a source the tests do not emulate`);
  }
  return out;
}

/** The host path behind a container's mount (hostPath volumes), or undefined. */
export function hostPathOf(o: K8sObject, c: Container, mountPath: string): string | undefined {
  const m = c.volumeMounts?.find((v) => v.mountPath === mountPath);
  const vol = m && podSpecOf(o).volumes?.find((v: any) => v.name === m.name);
  return vol?.hostPath?.path;
}
