// The few object shapes the client runtime needs. Deliberately minimal and structural: the typed kinds live
// in src/api (one schema per kind); anything with `metadata` works here.

import type { ObjectMeta } from "../api/kinds/common.ts";

/** What the runtime needs to address a resource. A `KindDefinition` from src/api satisfies it structurally. */
export interface ResourceDescriptor {
  group: string; // "" for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

/**
 * What `forKind` accepts: a ResourceDescriptor, or a KindDefinition from src/api/kinds (which says
 * `scope: "Cluster" | "Namespaced"` like a CRD instead of `namespaced`).
 */
export type DescriptorLike = Omit<ResourceDescriptor, "namespaced"> & ({ namespaced: boolean } | { scope: "Cluster" | "Namespaced"; namespaced?: undefined });

/** Normalises a DescriptorLike to a plain ResourceDescriptor. */
export function toDescriptor(def: DescriptorLike): ResourceDescriptor {
  const namespaced = "scope" in def && def.namespaced === undefined ? def.scope === "Namespaced" : Boolean(def.namespaced);
  return { group: def.group, version: def.version, plural: def.plural, kind: def.kind, namespaced };
}

export type { ObjectMeta, OwnerReference } from "../api/kinds/common.ts";

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
}

/** Minimal structured logger; pino's Logger satisfies it. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Default logger: warnings and errors to stderr, nothing else (pass pino for more). */
export const stderrLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (obj, msg) => console.error(`[kube] WARN ${msg ?? ""}`, obj),
  error: (obj, msg) => console.error(`[kube] ERROR ${msg ?? ""}`, obj),
};

export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** "group/version", or "version" for the core group. */
export function apiVersionOf(d: Pick<ResourceDescriptor, "group" | "version">): string {
  return d.group ? `${d.group}/${d.version}` : d.version;
}

/** The cache/queue key of an object: "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? "";
  return ns ? `${ns}/${name}` : name;
}

/** Splits a key made by objectKey. */
export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A running part of an agent or controller: whatever it started stops with it. */
export interface Service {
  stop(): Promise<void>;
}
