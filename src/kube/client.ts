// A small typed object client over the generic Kubernetes REST API. One ResourceClient per resource
// descriptor ({group, version, plural, kind, namespaced}); every failure is an HwError (transport.ts).

import type { KubeConfig } from "./kubeconfig.ts";
import { HwError } from "../api/errors.ts";
import { Transport, errorFromResponse, isConflict, isNotFound, type TransportOptions } from "./transport.ts";
import { apiVersionOf, toDescriptor, type DescriptorLike, type KubeObject, type ListMeta, type ResourceDescriptor, type WatchEvent } from "./types.ts";

export type PatchType = "merge" | "json" | "strategic";

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

/** One RFC 6902 operation. */
export interface JsonPatchOp {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  value?: unknown;
  from?: string;
}

export interface ListOptions {
  /** Namespace for a namespaced resource; undefined lists across all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; the client follows `continue` until the list is complete (default 500; 0 = one unpaged list). */
  pageSize?: number;
  signal?: AbortSignal;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export interface DeleteOptions {
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  gracePeriodSeconds?: number;
  preconditions?: { resourceVersion?: string; uid?: string };
}

export class KubeClient {
  readonly transport: Transport;

  constructor(
    readonly kubeConfig: KubeConfig,
    opts: TransportOptions = {},
  ) {
    this.transport = new Transport(kubeConfig, opts);
  }

  /** A client for one resource. `def` may be a KindDefinition from src/api or a plain descriptor. */
  forKind<T extends KubeObject = KubeObject>(def: DescriptorLike): ResourceClient<T> {
    return new ResourceClient<T>(this.transport, toDescriptor(def));
  }
}

export class ResourceClient<T extends KubeObject = KubeObject> {
  readonly apiVersion: string;

  constructor(
    readonly transport: Transport,
    readonly resource: ResourceDescriptor,
  ) {
    this.apiVersion = apiVersionOf(resource);
  }

  /** The collection path, e.g. /apis/hwameistor.io/v1alpha1/localvolumes or /api/v1/namespaces/ns/configmaps. */
  path(namespace?: string, name?: string, subresource?: string): string {
    const r = this.resource;
    let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${r.plural}`;
    if (name !== undefined) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  private nsFor(namespace: string | undefined, what: string): string | undefined {
    if (!this.resource.namespaced) return undefined;
    if (!namespace) throw new Error(`${this.resource.kind} ${what}: namespace required for a namespaced resource`);
    return namespace;
  }

  private describe(name: string, namespace?: string): string {
    return namespace ? `${this.resource.kind} ${namespace}/${name}` : `${this.resource.kind} ${name}`;
  }

  /** The object, or undefined when it does not exist. */
  async get(name: string, namespace?: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await this.transport.request<T>({ method: "GET", path: this.path(this.nsFor(namespace, "get"), name), signal });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Lists every matching object, following `continue` tokens; resourceVersion is the list's (for a watch). */
  async list(opts: ListOptions = {}): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = "";
    const ns = this.resource.namespaced ? opts.namespace : undefined;
    do {
      const page = await this.transport.request<{ items?: T[]; metadata?: ListMeta }>({
        method: "GET",
        path: this.path(ns),
        query: {
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          limit: opts.pageSize === 0 ? undefined : (opts.pageSize ?? 500),
          continue: cont,
        },
        signal: opts.signal,
      });
      for (const it of page.items ?? []) items.push(this.withTypeMeta(it));
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  /** Creates the object; namespace from the argument or metadata.namespace. */
  async create(obj: T, namespace?: string): Promise<T> {
    const ns = this.nsFor(namespace ?? obj.metadata?.namespace, "create");
    return this.transport.request<T>({ method: "POST", path: this.path(ns), body: this.withTypeMeta(obj) });
  }

  /** Replaces the object (PUT); metadata.resourceVersion, when set, makes it conditional (409 Conflict → ABORTED). */
  async update(obj: T): Promise<T> {
    const { name, ns } = this.nameOf(obj, "update");
    return this.transport.request<T>({ method: "PUT", path: this.path(ns, name), body: this.withTypeMeta(obj) });
  }

  /** Replaces the status subresource. */
  async updateStatus(obj: T): Promise<T> {
    const { name, ns } = this.nameOf(obj, "updateStatus");
    return this.transport.request<T>({ method: "PUT", path: this.path(ns, name, "status"), body: this.withTypeMeta(obj) });
  }

  /** Merge patch (an object) by default; `type: "json"` takes an array of RFC 6902 operations. */
  async patch(name: string, patch: unknown, opts: { namespace?: string; type?: PatchType; subresource?: string } = {}): Promise<T> {
    const type = opts.type ?? (Array.isArray(patch) ? "json" : "merge");
    return this.transport.request<T>({
      method: "PATCH",
      path: this.path(this.nsFor(opts.namespace, "patch"), name, opts.subresource),
      body: patch,
      contentType: PATCH_CONTENT_TYPES[type],
    });
  }

  /** Patches the status subresource (merge patch by default). */
  async patchStatus(name: string, patch: unknown, opts: { namespace?: string; type?: PatchType } = {}): Promise<T> {
    return this.patch(name, patch, { ...opts, subresource: "status" });
  }

  /** Deletes the object. True if the server accepted the delete, false if it did not exist. */
  async delete(name: string, namespace?: string, opts: DeleteOptions = {}): Promise<boolean> {
    const body =
      opts.propagationPolicy || opts.gracePeriodSeconds !== undefined || opts.preconditions ? { apiVersion: "v1", kind: "DeleteOptions", ...opts } : undefined;
    try {
      await this.transport.request({ method: "DELETE", path: this.path(this.nsFor(namespace, "delete"), name), body });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /** Adds a finalizer if missing (conflict-safe). Undefined if the object does not exist. */
  async addFinalizer(name: string, finalizer: string, namespace?: string): Promise<T | undefined> {
    return this.editFinalizers(name, namespace, (f) => (f.includes(finalizer) ? undefined : [...f, finalizer]));
  }

  /** Removes a finalizer if present (conflict-safe). Undefined if the object does not exist (any more). */
  async removeFinalizer(name: string, finalizer: string, namespace?: string): Promise<T | undefined> {
    return this.editFinalizers(name, namespace, (f) => (f.includes(finalizer) ? f.filter((x) => x !== finalizer) : undefined));
  }

  private async editFinalizers(name: string, namespace: string | undefined, edit: (current: string[]) => string[] | undefined): Promise<T | undefined> {
    // A merge patch carrying metadata.resourceVersion is conditional: a concurrent writer makes it a 409
    // and we re-read, so finalizers written by others in between are never dropped.
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(name, namespace);
      if (!cur) return undefined;
      const next = edit(cur.metadata?.finalizers ?? []);
      if (!next) return cur;
      try {
        return await this.patch(name, { metadata: { finalizers: next, resourceVersion: cur.metadata?.resourceVersion } }, { namespace, type: "merge" });
      } catch (e) {
        if (isNotFound(e)) return undefined;
        if (isConflict(e) && attempt < 5) continue;
        throw e;
      }
    }
  }

  /**
   * One watch request: calls onEvent for each event until the server ends the stream (resolves) or the
   * connection fails (rejects). An ERROR event (e.g. 410 Expired) rejects with its mapped HwError.
   */
  async watch(opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): Promise<void> {
    const ns = this.resource.namespaced ? opts.namespace : undefined;
    await this.transport.stream(
      {
        method: "GET",
        path: this.path(ns),
        query: {
          watch: "true",
          resourceVersion: opts.resourceVersion,
          allowWatchBookmarks: opts.allowWatchBookmarks ? "true" : undefined,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          timeoutSeconds: opts.timeoutSeconds,
        },
        signal: opts.signal,
      },
      (v) => {
        const ev = v as WatchEvent<T>;
        if (ev.type === "ERROR") throw watchErrorToHwError(ev.object as Record<string, unknown>, this.path(ns));
        onEvent({ type: ev.type, object: ev.type === "BOOKMARK" ? ev.object : this.withTypeMeta(ev.object) });
      },
    );
  }

  private nameOf(obj: T, what: string): { name: string; ns: string | undefined } {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`${this.resource.kind} ${what}: metadata.name required`);
    return { name, ns: this.nsFor(obj.metadata?.namespace, what) };
  }

  /** Lists return items without apiVersion/kind; fill them in so objects are self-describing. */
  private withTypeMeta(obj: T): T {
    if (obj.apiVersion && obj.kind) return obj;
    return { ...obj, apiVersion: obj.apiVersion ?? this.apiVersion, kind: obj.kind ?? this.resource.kind };
  }
}

function watchErrorToHwError(status: Record<string, unknown>, path: string): HwError {
  // An ERROR event carries a Status object; map it like an HTTP answer with that code (410 → Expired).
  const code = typeof status.code === "number" ? status.code : 500;
  return errorFromResponse(code, JSON.stringify(status), `watch ${path}`);
}
