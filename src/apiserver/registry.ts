// The live set of resource types: built-ins plus one ResourceType per served version of every stored
// CustomResourceDefinition. CRD writes replace a CRD's types atomically; compiled schemas are cached per
// (CRD uid, generation, version) so no request recompiles a schema.

import { builtinResourceTypes } from "./builtins.ts";
import type { ResourceType } from "./resource-type.ts";
import { compileSchema, resourceTypesFromCrd, type CompiledSchema } from "./schema.ts";

export class Registry {
  private readonly byGvr = new Map<string, ResourceType>();
  private readonly byCrd = new Map<string, ResourceType[]>(); // CRD name -> its types
  private readonly schemas = new Map<string, { stamp: string; schema: CompiledSchema }>(); // gvr -> compiled
  private list: ResourceType[] = [];

  constructor() {
    for (const rt of builtinResourceTypes) this.byGvr.set(gvrKey(rt.group, rt.version, rt.plural), rt);
    this.rebuild();
  }

  get(group: string, version: string, plural: string): ResourceType | undefined {
    return this.byGvr.get(gvrKey(group, version, plural));
  }

  /** All served types, built-ins first. */
  all(): ResourceType[] {
    return this.list;
  }

  /** True when more than one version of this group/resource is served (objects then need apiVersion rewriting). */
  isMultiVersion(group: string, plural: string): boolean {
    let n = 0;
    for (const rt of this.list) if (rt.group === group && rt.plural === plural) n++;
    return n > 1;
  }

  /** Registers (or replaces) the types of a CRD; returns them. */
  registerCrd(crd: any): ResourceType[] {
    this.unregisterCrd(crd.metadata.name);
    const types = resourceTypesFromCrd(crd);
    for (const rt of types) this.byGvr.set(gvrKey(rt.group, rt.version, rt.plural), rt);
    this.byCrd.set(crd.metadata.name, types);
    const stamp = `${crd.metadata.uid}/${crd.metadata.generation}`;
    for (const rt of types) {
      if (rt.schema) this.schemas.set(gvrKey(rt.group, rt.version, rt.plural), { stamp, schema: compileSchema(rt.schema) });
    }
    this.rebuild();
    return types;
  }

  unregisterCrd(crdName: string): ResourceType[] {
    const old = this.byCrd.get(crdName) ?? [];
    for (const rt of old) {
      const k = gvrKey(rt.group, rt.version, rt.plural);
      this.byGvr.delete(k);
      this.schemas.delete(k);
    }
    this.byCrd.delete(crdName);
    if (old.length) this.rebuild();
    return old;
  }

  /** The compiled schema of a custom resource type, compiled once per CRD generation. */
  schemaOf(rt: ResourceType): CompiledSchema | undefined {
    return this.schemas.get(gvrKey(rt.group, rt.version, rt.plural))?.schema;
  }

  private rebuild(): void {
    this.list = [...this.byGvr.values()];
  }
}

function gvrKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}
