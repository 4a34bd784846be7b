// Object semantics of the API server: create, get, update (main and /status), patch, delete with
// finalizers, delete-collection, and the built-in controllers kube-apiserver runs in-process that we
// need (CRD registration/status, namespace content cleanup). HTTP-free: handlers in server.ts parse the
// request and call these. All checks run before the single store write, so nothing is written on error.
// better-sqlite3 is synchronous and no method awaits, so every read-modify-write below is atomic with
// respect to other requests (a PATCH can never hit a conflict between its read and its write).

import { HwError, conflict, type FieldCause } from "../../api/errors.ts";
import { CRD_GROUP, CRD_PLURAL, applyBuiltinDefaults, initialStatusOf, keepsStatusOnCreate } from "../builtins.ts";
import {
  badRequest,
  bumpGeneration,
  deepEqual,
  generateName,
  invalidObject,
  metadataCauses,
  nameCauses,
  nowTimestamp,
  prepareCreateMeta,
  preserveSystemMeta,
} from "../object-meta.ts";
import { applyPatch, type PatchType } from "../patch.ts";
import type { Registry } from "../registry.ts";
import { groupVersion, type ResourceType } from "../resource-type.ts";
import { resourceTypesFromCrd, validateCrd } from "../schema.ts";
import type { ObjectKey, SqliteStore } from "../store/sqlite-store.ts";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface WriteOptions {
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
  /** Filled with `Warning` header texts (unknown fields under fieldValidation=Warn). */
  warnings?: string[];
}

export interface DeleteOptions extends WriteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
  /** DeleteOptions.gracePeriodSeconds (pods: graceful deletion). */
  gracePeriodSeconds?: number;
}

/** `pods`, `storageclasses.storage.k8s.io`: how kube names a resource in error messages. */
export function qualifiedResource(rt: ResourceType): string {
  return rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
}

export function notFoundError(rt: ResourceType, name: string): HwError {
  return new HwError("NOT_FOUND", "NotFound", `${qualifiedResource(rt)} "${name}" not found`, {
    details: { name, group: rt.group, kind: rt.plural },
  });
}

const NAMESPACES: Pick<ResourceType, "group" | "plural"> = { group: "", plural: "namespaces" };
const IMMORTAL_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);

export class ObjectService {
  constructor(
    readonly store: SqliteStore,
    readonly registry: Registry,
  ) {}

  keyOf(rt: ResourceType, namespace: string | undefined, name: string): ObjectKey {
    return { group: rt.group, resource: rt.plural, namespace: rt.namespaced ? (namespace ?? "") : "", name };
  }

  /** Parses a stored object and sets the apiVersion it is served at (multi-version CRDs share storage). */
  decode(rt: ResourceType, data: string): any {
    const obj = JSON.parse(data);
    obj.apiVersion = groupVersion(rt);
    return obj;
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): any {
    const data = this.store.get(this.keyOf(rt, namespace, name));
    if (data === undefined) throw notFoundError(rt, name);
    return this.decode(rt, data);
  }

  tryGet(rt: ResourceType, namespace: string | undefined, name: string): any | undefined {
    const data = this.store.get(this.keyOf(rt, namespace, name));
    return data === undefined ? undefined : this.decode(rt, data);
  }

  create(rt: ResourceType, namespace: string | undefined, body: any, opts: WriteOptions = {}): any {
    const obj = this.checkBody(rt, namespace, body);
    const m = obj.metadata;
    if (!m.name && typeof m.generateName === "string" && m.generateName) {
      for (let i = 0; i < 8; i++) {
        m.name = generateName(m.generateName);
        if (this.store.get(this.keyOf(rt, namespace, m.name)) === undefined) break;
      }
    }
    const causes = [...nameCauses(rt, m.name), ...metadataCauses(obj)];
    if (causes.length) throw invalidObject(rt, m.name ?? m.generateName ?? "", causes);
    if (rt.namespaced) this.checkNamespaceWritable(namespace!);
    prepareCreateMeta(obj);
    if (rt.hasStatus && !(rt.builtin && keepsStatusOnCreate.has(rt.kind))) {
      const initial = rt.builtin ? initialStatusOf(rt.kind) : undefined;
      if (initial) obj.status = initial;
      else delete obj.status;
    }
    this.admit(rt, obj, undefined, opts);
    const key = this.keyOf(rt, namespace, m.name);
    if (this.store.get(key) !== undefined) {
      throw new HwError("ALREADY_EXISTS", "AlreadyExists", `${qualifiedResource(rt)} "${m.name}" already exists`, {
        details: { name: m.name, group: rt.group, kind: rt.plural },
      });
    }
    if (opts.dryRun) return obj;
    this.store.write("ADDED", key, obj);
    this.afterWrite(rt, obj, undefined);
    return obj;
  }

  update(rt: ResourceType, namespace: string | undefined, name: string, body: any, opts: WriteOptions = {}, subresource?: "status"): any {
    const old = this.get(rt, namespace, name);
    const given = this.checkBody(rt, namespace, body);
    if (given.metadata.name !== undefined && given.metadata.name !== name) {
      throw badRequest(`the name of the object (${given.metadata.name}) does not match the name on the URL (${name})`);
    }
    this.checkPreconditions(rt, old, { uid: given.metadata.uid, resourceVersion: given.metadata.resourceVersion });
    let obj: any;
    if (subresource === "status") {
      // kube's status strategy: everything but status comes from the stored object.
      obj = structuredClone(old);
      if (given.status !== undefined) obj.status = given.status;
      else delete obj.status;
    } else {
      obj = given;
      if (rt.hasStatus) {
        if (old.status !== undefined) obj.status = old.status;
        else delete obj.status;
      }
    }
    return this.commitUpdate(rt, old, obj, opts);
  }

  patch(rt: ResourceType, namespace: string | undefined, name: string, type: PatchType, patch: any, opts: WriteOptions = {}, subresource?: "status"): any {
    if (type === "apply") return this.apply(rt, namespace, name, patch, opts, subresource).obj;
    if (type === "strategic" && !rt.builtin) {
      throw new HwError(
        "INVALID_ARGUMENT",
        "UnsupportedMediaType",
        `strategic merge patch is not supported for custom resource ${qualifiedResource(rt)}; use a merge or JSON patch`,
        {
          httpStatus: 415,
          statusReason: "UnsupportedMediaType",
        },
      );
    }
    const old = this.get(rt, namespace, name);
    const patched = applyPatch(type, old, patch);
    if (patched === null || typeof patched !== "object" || Array.isArray(patched)) throw badRequest("the patch result is not an object");
    // A resourceVersion in the patch is a precondition; otherwise the patch applies to the latest version.
    const patchRv = patched?.metadata?.resourceVersion;
    if (patchRv === undefined || patchRv === null) {
      patched.metadata = { ...(patched.metadata ?? {}), resourceVersion: old.metadata.resourceVersion };
    }
    return this.update(rt, namespace, name, patched, opts, subresource);
  }

  /**
   * Server-side apply, approximated: creates the object from the applied configuration if it is missing,
   * else merges the configuration into it as a JSON merge patch. Approximation: no field ownership
   * (managedFields), so no conflicts are ever reported and fields dropped from a later applied
   * configuration are not removed; lists are replaced, not merged by key.
   */
  apply(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    config: any,
    opts: WriteOptions = {},
    subresource?: "status",
  ): { obj: any; created: boolean } {
    if (config === null || typeof config !== "object" || Array.isArray(config)) throw badRequest("the applied configuration must be an object");
    if (config.metadata?.name !== undefined && config.metadata.name !== name) {
      throw badRequest(`the name of the object (${config.metadata.name}) does not match the name on the URL (${name})`);
    }
    const old = this.tryGet(rt, namespace, name);
    if (!old) {
      if (subresource) throw notFoundError(rt, name);
      return { obj: this.create(rt, namespace, { ...config, metadata: { ...(config.metadata ?? {}), name } }, opts), created: true };
    }
    const patched = applyPatch("merge", old, config);
    if (config.metadata?.resourceVersion === undefined) patched.metadata.resourceVersion = old.metadata.resourceVersion;
    return { obj: this.update(rt, namespace, name, patched, opts, subresource), created: false };
  }

  delete(rt: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): any {
    const old = this.get(rt, namespace, name);
    this.checkPreconditions(rt, old, opts.preconditions ?? {});
    const isNamespace = rt.group === "" && rt.plural === "namespaces";
    if (isNamespace && IMMORTAL_NAMESPACES.has(name)) {
      // kube's NamespaceLifecycle admission plugin protects these.
      throw new HwError("PERMISSION_DENIED", "Forbidden", `namespaces "${name}" is forbidden: this namespace may not be deleted`, {
        details: { name, kind: "namespaces" },
      });
    }
    if (isNamespace && !opts.dryRun) this.deleteNamespaceContent(name);
    const remaining = isNamespace ? this.store.countInNamespace(name) : 0;
    const finalizers: string[] = Array.isArray(old.metadata.finalizers) ? old.metadata.finalizers : [];
    const grace = podGracePeriod(rt, old, opts);
    if (grace !== undefined) {
      // Graceful pod deletion (kube-apiserver's pod strategy): a pod bound to a node is only marked; its
      // kubelet stops the containers, cleans up the volumes, then deletes it with grace 0. A second delete
      // may shorten the grace period, never lengthen it.
      const prev = old.metadata.deletionGracePeriodSeconds;
      if (old.metadata.deletionTimestamp && prev !== undefined && prev <= grace) return old;
      const obj = structuredClone(old);
      obj.metadata.deletionTimestamp = old.metadata.deletionTimestamp ?? nowTimestamp();
      obj.metadata.deletionGracePeriodSeconds = grace;
      if (opts.dryRun) return obj;
      this.store.write("MODIFIED", this.keyOf(rt, namespace, name), obj, old);
      return obj;
    }
    if (finalizers.length > 0 || remaining > 0) {
      if (old.metadata.deletionTimestamp) return old;
      const obj = structuredClone(old);
      obj.metadata.deletionTimestamp = nowTimestamp();
      obj.metadata.deletionGracePeriodSeconds = 0;
      if (isNamespace) obj.status = { ...(obj.status ?? {}), phase: "Terminating" };
      if (opts.dryRun) return obj;
      this.store.write("MODIFIED", this.keyOf(rt, namespace, name), obj, old);
      return obj;
    }
    if (opts.dryRun) return old;
    return this.remove(rt, old);
  }

  /** Deletes every object of a collection that passes `filter`; returns them (kube answers a list). */
  deleteCollection(rt: ResourceType, namespace: string | undefined, filter: (obj: any) => boolean, opts: DeleteOptions = {}): any[] {
    const out: any[] = [];
    for (const row of this.store.list(rt.group, rt.plural, rt.namespaced ? namespace : undefined)) {
      const obj = this.decode(rt, row.data);
      if (!filter(obj)) continue;
      try {
        out.push(this.delete(rt, row.namespace || undefined, row.name, { ...opts, preconditions: undefined }));
      } catch (e) {
        if (!(e instanceof HwError && e.code === "NOT_FOUND")) throw e; // gone meanwhile (cascade): fine
      }
    }
    return out;
  }

  /** Every object of a resource (in a namespace), decoded: for handlers that read across objects (eviction). */
  list(rt: ResourceType, namespace: string | undefined): any[] {
    return this.store.list(rt.group, rt.plural, rt.namespaced ? namespace : undefined).map((row) => this.decode(rt, row.data));
  }

  /** Creates a cluster-scoped or namespaced object if missing (default namespaces at first start). */
  ensure(rt: ResourceType, namespace: string | undefined, obj: any): void {
    if (this.store.get(this.keyOf(rt, namespace, obj.metadata.name)) === undefined) this.create(rt, namespace, obj);
  }

  // ---- internals ---------------------------------------------------------------------------------------

  private checkBody(rt: ResourceType, namespace: string | undefined, body: any): any {
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("the request body must be a JSON or YAML object");
    const gv = groupVersion(rt);
    if (body.kind !== undefined && body.kind !== rt.kind) {
      throw badRequest(`the kind of the provided object (${String(body.kind)}) does not match the resource ${qualifiedResource(rt)} (${rt.kind})`);
    }
    if (body.apiVersion !== undefined && body.apiVersion !== gv) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${gv})`);
    }
    const obj = { ...body, apiVersion: gv, kind: rt.kind };
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (typeof obj.metadata !== "object" || Array.isArray(obj.metadata)) throw badRequest("metadata must be an object");
    obj.metadata = { ...obj.metadata };
    if (rt.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
        throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      obj.metadata.namespace = namespace;
    } else {
      delete obj.metadata.namespace;
    }
    return obj;
  }

  private checkNamespaceWritable(namespace: string): void {
    const data = this.store.get({ group: "", resource: "namespaces", namespace: "", name: namespace });
    if (data === undefined) {
      throw new HwError("NOT_FOUND", "NotFound", `namespaces "${namespace}" not found`, { details: { name: namespace, kind: "namespaces" } });
    }
    if (JSON.parse(data).metadata.deletionTimestamp) {
      throw new HwError("PERMISSION_DENIED", "Forbidden", `unable to create new content in namespace ${namespace} because it is being terminated`, {
        details: { name: namespace, kind: "namespaces" },
      });
    }
  }

  private checkPreconditions(rt: ResourceType, old: any, pre: { uid?: string; resourceVersion?: string }): void {
    const name = old.metadata.name;
    if (pre.uid && pre.uid !== old.metadata.uid) {
      throw conflictError(rt, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflictError(rt, name, "the object has been modified; please apply your changes to the latest version and try again");
    }
  }

  private commitUpdate(rt: ResourceType, old: any, obj: any, opts: WriteOptions): any {
    preserveSystemMeta(obj, old);
    const causes = metadataCauses(obj);
    if (old.metadata.deletionTimestamp) {
      const had = new Set<string>(old.metadata.finalizers ?? []);
      const added = (obj.metadata.finalizers ?? []).filter((f: string) => !had.has(f));
      if (added.length)
        causes.push({
          field: "metadata.finalizers",
          reason: "FieldValueForbidden",
          message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        });
    }
    if (causes.length) throw invalidObject(rt, old.metadata.name, causes);
    this.admit(rt, obj, old, opts);
    bumpGeneration(obj, old, rt);
    const { resourceVersion: _a, ...newMeta } = obj.metadata;
    const { resourceVersion: _b, ...oldMeta } = old.metadata;
    if (deepEqual({ ...obj, metadata: newMeta }, { ...old, metadata: oldMeta })) return old; // no-op: no new rv, no event
    const deleting = obj.metadata.deletionTimestamp && !(obj.metadata.finalizers?.length > 0);
    if (opts.dryRun) return obj;
    if (deleting) {
      if (rt.group === "" && rt.plural === "namespaces" && this.store.countInNamespace(old.metadata.name) > 0) {
        // A terminating namespace goes when its content is gone (removeIfEmptyNamespace).
        this.store.write("MODIFIED", this.keyOf(rt, old.metadata.namespace, old.metadata.name), obj, old);
        return obj;
      }
      return this.remove(rt, obj);
    }
    this.store.write("MODIFIED", this.keyOf(rt, old.metadata.namespace, old.metadata.name), obj, old);
    this.afterWrite(rt, obj, old);
    return obj;
  }

  /** Schema pipeline of custom resources (prune, default, validate) and CRD validation; throws 422. */
  private admit(rt: ResourceType, obj: any, old: any | undefined, opts: WriteOptions): void {
    if (rt.builtin) {
      if (rt.group === "") applyBuiltinDefaults(rt.kind, obj);
      if (rt.group === CRD_GROUP && rt.plural === CRD_PLURAL) this.admitCrd(obj, old);
      return;
    }
    const schema = this.registry.schemaOf(rt);
    if (!schema) return;
    const unknown = schema.prune(obj);
    const mode = opts.fieldValidation ?? "Warn";
    if (unknown.length && mode === "Strict") {
      const detail = unknown.map((f) => `unknown field "${f}"`).join(", ");
      // Approximation: kube answers 400 BadRequest for strict decoding errors; we answer 422 Invalid
      // (the same message) so the unknown fields are listed as causes.
      throw new HwError("INVALID_ARGUMENT", "Invalid", `${rt.kind} "${obj.metadata.name}" is invalid: strict decoding error: ${detail}`, {
        httpStatus: 422,
        statusReason: "Invalid",
        causes: unknown.map((f) => ({ field: f, reason: "FieldValueInvalid", message: `strict decoding error: unknown field "${f}"` })),
        details: { name: obj.metadata.name, group: rt.group, kind: rt.kind },
      });
    }
    if (unknown.length && mode === "Warn") for (const f of unknown) opts.warnings?.push(`unknown field "${f}"`);
    schema.applyDefaults(obj);
    const causes: FieldCause[] = schema.validate(obj);
    if (causes.length) throw invalidObject(rt, obj.metadata.name, causes);
  }

  private admitCrd(crd: any, old: any | undefined): void {
    const causes = validateCrd(crd);
    if (causes.length) throw invalidObject(this.crdType(), crd.metadata.name, causes);
    // Build its types now, so a CRD that cannot be served is rejected before anything is written.
    let types: ResourceType[];
    try {
      types = resourceTypesFromCrd(crd);
    } catch (e) {
      throw invalidObject(this.crdType(), crd.metadata.name, [
        { field: "spec", reason: "FieldValueInvalid", message: `Invalid value: ${(e as Error).message}` },
      ]);
    }
    for (const t of types) {
      const existing = this.registry.get(t.group, t.version, t.plural);
      if (existing?.builtin) {
        throw invalidObject(this.crdType(), crd.metadata.name, [
          {
            field: "spec.names.plural",
            reason: "FieldValueInvalid",
            message: `Invalid value: "${t.plural}": ${t.group}/${t.version} ${t.plural} is a built-in resource`,
          },
        ]);
      }
    }
    const names = crd.spec?.names ?? {};
    if (!names.singular && typeof names.kind === "string") names.singular = names.kind.toLowerCase();
    if (!names.listKind && typeof names.kind === "string") names.listKind = `${names.kind}List`;
    // Our in-process "apiextensions controller": names are accepted and the CRD is established at once.
    const now = nowTimestamp();
    const prevConds: any[] = old?.status?.conditions ?? [];
    const cond = (type: string, reason: string, message: string) => ({
      type,
      status: "True",
      reason,
      message,
      lastTransitionTime: prevConds.find((c) => c.type === type)?.lastTransitionTime ?? now,
    });
    const storage = (crd.spec?.versions ?? []).find((v: any) => v.storage)?.name;
    const stored = new Set<string>(old?.status?.storedVersions ?? []);
    if (storage) stored.add(storage);
    crd.status = {
      conditions: [
        cond("NamesAccepted", "NoConflicts", "no conflicts found"),
        cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
      ],
      acceptedNames: { ...names },
      storedVersions: [...stored],
    };
  }

  private crdType(): ResourceType {
    return this.registry.get(CRD_GROUP, "v1", CRD_PLURAL)!;
  }

  /** Removes an object for good (DELETED event), then runs the in-process controllers that follow. */
  private remove(rt: ResourceType, obj: any): any {
    const key = this.keyOf(rt, obj.metadata.namespace, obj.metadata.name);
    this.store.write("DELETED", key, obj);
    if (rt.group === CRD_GROUP && rt.plural === CRD_PLURAL) this.removeCrdObjects(obj);
    if (rt.namespaced && obj.metadata.namespace) this.removeIfEmptyTerminatingNamespace(obj.metadata.namespace);
    return obj;
  }

  private afterWrite(rt: ResourceType, obj: any, _old: any | undefined): void {
    if (rt.group === CRD_GROUP && rt.plural === CRD_PLURAL) this.registry.registerCrd(obj);
  }

  /**
   * Deleting a CRD deletes its custom resources. Approximation: kube's customresourcecleanup finalizer
   * deletes them with finalizers honoured and keeps the CRD Terminating until then; we delete them at once.
   */
  private removeCrdObjects(crd: any): void {
    const types = this.registry.unregisterCrd(crd.metadata.name);
    const first = types[0];
    if (!first) return;
    for (const row of this.store.list(first.group, first.plural, undefined)) {
      const obj = JSON.parse(row.data);
      this.store.write("DELETED", { group: first.group, resource: first.plural, namespace: row.namespace, name: row.name }, obj);
    }
  }

  /** The namespace controller, inline: deleting a namespace deletes its content (finalizers honoured). */
  private deleteNamespaceContent(namespace: string): void {
    for (const key of this.store.keysInNamespace(namespace)) {
      const rt = this.registry.all().find((t) => t.group === key.group && t.plural === key.resource);
      const data = this.store.get(key);
      if (data === undefined) continue;
      const obj = JSON.parse(data);
      if (!rt) {
        this.store.write("DELETED", key, obj); // its type is gone; nothing can watch it
        continue;
      }
      if (obj.metadata.finalizers?.length) {
        if (obj.metadata.deletionTimestamp) continue;
        const prev = structuredClone(obj);
        obj.metadata.deletionTimestamp = nowTimestamp();
        obj.metadata.deletionGracePeriodSeconds = 0;
        this.store.write("MODIFIED", key, obj, prev);
      } else {
        this.store.write("DELETED", key, obj);
      }
    }
  }

  private removeIfEmptyTerminatingNamespace(namespace: string): void {
    const key = { group: NAMESPACES.group, resource: NAMESPACES.plural, namespace: "", name: namespace };
    const data = this.store.get(key);
    if (data === undefined) return;
    const ns = JSON.parse(data);
    if (!ns.metadata.deletionTimestamp || ns.metadata.finalizers?.length) return;
    if (this.store.countInNamespace(namespace) > 0) return;
    this.store.write("DELETED", key, ns);
  }
}

function conflictError(rt: ResourceType, name: string, why: string): HwError {
  const e = conflict(`Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": ${why}`);
  return new HwError(e.code, e.reason, e.message, { statusReason: "Conflict", httpStatus: 409, details: { name, group: rt.group, kind: rt.plural } });
}

/**
 * The grace period of a graceful pod deletion, or undefined for an immediate one: pods not yet on a node, a
 * finished pod, or gracePeriodSeconds 0 go at once (as kube-apiserver's pod strategy decides).
 */
function podGracePeriod(rt: ResourceType, pod: any, opts: DeleteOptions): number | undefined {
  if (!rt.builtin || rt.group !== "" || rt.plural !== "pods") return undefined;
  if (!pod.spec?.nodeName) return undefined;
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return undefined;
  const grace = opts.gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
  return grace > 0 ? grace : undefined;
}
