// Test fixture: the LocalDisk resource type as the API server derives it from its CRD, for the tests of the
// pieces that take a ResourceType (tables, OpenAPI, schema derivation). Fields a test cares about are given
// as overrides, so each test shows what it depends on.

import type { ResourceType } from "../resource-type.ts";

export function localDiskResourceType(overrides: Partial<ResourceType> = {}): ResourceType {
  return {
    group: "hwameistor.io",
    version: "v1alpha1",
    kind: "LocalDisk",
    listKind: "LocalDiskList",
    plural: "localdisks",
    singular: "localdisk",
    shortNames: [],
    categories: [],
    namespaced: false,
    hasStatus: true,
    printerColumns: [],
    selectableFields: [],
    builtin: false,
    ...overrides,
  };
}
