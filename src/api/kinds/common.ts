// Building blocks shared by the kind schemas: small typebox helpers that emit only what a structural CRD
// schema allows (every node typed; maps as `additionalProperties`, never `patternProperties`; string enums
// with `type: string`), the Kubernetes shapes the original embeds (ObjectReference, metav1.Condition,
// metav1.LabelSelector), HwameiStor's shared types (AccessibilityTopology, QoS, encryption), and the
// KindDefinition that ties a kind's names, printer columns and schema together.

import { Type, type Static, type TSchema } from "typebox";
import {
  API_VERSION,
  GROUP,
  KindNamesTable,
  VERSION,
  type Kind,
  type KindNames,
  DEFAULT_TOPOLOGY_VALUE,
  VOLUME_ENCRYPT_TYPES,
  VolumeEncryptTypes,
} from "../names.ts";

// ---------------------------------------------------------------- helpers

type Opts = Record<string, unknown>;

export const Opt = Type.Optional;
export const Str = (o: Opts = {}) => Type.String(o);
/** Byte counts and other Go int64 fields. */
export const Int64 = (o: Opts = {}) => Type.Integer({ format: "int64", ...o });
/** Go int32 fields. */
export const Int32 = (o: Opts = {}) => Type.Integer({ format: "int32", ...o });
/** Go `int` fields: controller-gen emits plain `type: integer`. */
export const Int = (o: Opts = {}) => Type.Integer(o);
export const Num = (o: Opts = {}) => Type.Number(o);
export const Bool = (o: Opts = {}) => Type.Boolean(o);
export const StrList = (o: Opts = {}) => Type.Array(Type.String(), o);
/** A metav1.Time. */
export const DateTime = (o: Opts = {}) => Type.String({ format: "date-time", ...o });

/** A string restricted to `values` (typed as their union). */
export const StrEnum = <const T extends readonly string[]>(values: T, o: Opts = {}) => Type.Unsafe<T[number]>({ type: "string", enum: [...values], ...o });

/** A Go map[string]V: `additionalProperties`, as structural schemas require. */
export const MapOf = <V extends TSchema>(value: V, o: Opts = {}) =>
  Type.Unsafe<Record<string, Static<V>>>({ type: "object", additionalProperties: value, ...o });

/** A free-form object whose unknown fields the API server keeps (not pruned). */
export const FreeForm = <T = Record<string, unknown>>(o: Opts = {}) => Type.Unsafe<T>({ type: "object", "x-kubernetes-preserve-unknown-fields": true, ...o });

/** An array of free-form objects (e.g. tolerations). */
export const FreeFormList = <T = Record<string, unknown>>(o: Opts = {}) =>
  Type.Unsafe<T[]>({ type: "array", items: { type: "object", "x-kubernetes-preserve-unknown-fields": true }, ...o });

// ---------------------------------------------------------------- metadata

/** metav1.OwnerReference. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/**
 * The parts of metav1.ObjectMeta our code reads and writes (other fields pass through untouched). In the CRD,
 * metadata is `{type: object}`. The one definition: src/kube re-exports it.
 */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: unknown[];
  [extra: string]: unknown;
}

export const ObjectMetaSchema = Type.Unsafe<ObjectMeta>({ type: "object" });

/** The whole-object schema: apiVersion, kind, metadata, spec, status (spec and status optional, as in Go). */
export function kindObject<S extends TSchema, St extends TSchema>(spec: S, status: St, description: string) {
  return Type.Object(
    {
      apiVersion: Opt(Str({ description: "APIVersion defines the versioned schema of this representation of an object." })),
      kind: Opt(Str({ description: "Kind is a string value representing the REST resource this object represents." })),
      metadata: Opt(ObjectMetaSchema),
      spec: Opt(spec),
      status: Opt(status),
    },
    { description },
  );
}

/** An empty status (`status: {}`) — LocalVolumeGroup, ResizePolicy, Event. */
export const EmptyStatus = Type.Object({});

// ---------------------------------------------------------------- Kubernetes shapes

/** core/v1 ObjectReference. */
export const ObjectReference = Type.Object(
  {
    apiVersion: Opt(Str()),
    fieldPath: Opt(Str()),
    kind: Opt(Str()),
    name: Opt(Str()),
    namespace: Opt(Str()),
    resourceVersion: Opt(Str()),
    uid: Opt(Str()),
  },
  { "x-kubernetes-map-type": "atomic" },
);
export type ObjectReference = Static<typeof ObjectReference>;

/** metav1.Condition, with the validation the upstream CRD generator emits for it. */
export const Condition = Type.Object({
  lastTransitionTime: DateTime(),
  message: Str({ maxLength: 32768 }),
  observedGeneration: Opt(Int64({ minimum: 0 })),
  reason: Str({ maxLength: 1024, minLength: 1, pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$" }),
  status: StrEnum(["True", "False", "Unknown"]),
  type: Str({
    maxLength: 316,
    pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
  }),
});
export type Condition = Static<typeof Condition>;

/**
 * Additive (not in the original): the last failure of the object's node-side work, as raised —
 * code (gRPC canonical name), reason (src/api/errors.ts registry), message, hint — so the CSI controller
 * answers with the node's code and reason instead of re-deriving them from text. Removed on success.
 */
export const ErrorStatus = Type.Object(
  {
    code: Str({ description: "gRPC canonical code name, e.g. RESOURCE_EXHAUSTED" }),
    reason: Str({ description: "Stable PascalCase reason, e.g. InsufficientCapacity" }),
    message: Str({ maxLength: 32768 }),
    hint: Opt(Str({ description: "How to fix it" })),
  },
  { description: "Last failure of this object's work on its node (hwameistor-ts addition)" },
);
export type ErrorStatusType = Static<typeof ErrorStatus>;

/** metav1.LabelSelector. */
export const LabelSelector = Type.Object(
  {
    matchExpressions: Opt(
      Type.Array(
        Type.Object({
          key: Str(),
          operator: Str(),
          values: Opt(StrList()),
        }),
      ),
    ),
    matchLabels: Opt(MapOf(Str())),
  },
  { "x-kubernetes-map-type": "atomic" },
);
export type LabelSelector = Static<typeof LabelSelector>;

// ---------------------------------------------------------------- HwameiStor shared types

/** AccessibilityTopology: where a volume's replicas live. zones/regions default ["default"]. */
export const AccessibilityTopology = Type.Object({
  nodes: Opt(StrList({ description: "Storage nodes the volume replicas must locate at" })),
  zones: Opt(StrList({ default: [DEFAULT_TOPOLOGY_VALUE] })),
  regions: Opt(StrList({ default: [DEFAULT_TOPOLOGY_VALUE] })),
});
export type AccessibilityTopology = Static<typeof AccessibilityTopology>;

/** IO limits as Kubernetes quantity strings ("100", "1Mi"); missing = unlimited. */
export const VolumeQoS = Type.Object({
  throughput: Opt(Str()),
  iops: Opt(Str()),
});
export type VolumeQoS = Static<typeof VolumeQoS>;

export const VolumeEncrypt = Type.Object({
  enable: Opt(Bool({ default: false })),
  type: Opt(StrEnum(VOLUME_ENCRYPT_TYPES, { default: VolumeEncryptTypes.LUKS })),
  secret: Opt(Str({ description: "<namespace>/<name> of the secret holding the passphrase" })),
});
export type VolumeEncrypt = Static<typeof VolumeEncrypt>;

/** Minimum volume size (4 MiB), also the LVM rounding unit. */
export const MIN_VOLUME_BYTES = 4194304;

/** What a volume asks for — size, IO limits, encryption — in a LocalVolume's spec and again in each replica's, which realises it. */
export const VolumeRequestFields = {
  requiredCapacityBytes: Opt(Int64({ minimum: MIN_VOLUME_BYTES })),
  volumeQoS: Opt(VolumeQoS),
  volumeEncrypt: Opt(VolumeEncrypt),
};

// ---------------------------------------------------------------- kind definitions

/** A printer column as in a CRD's `additionalPrinterColumns`. */
export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  format?: string;
  description?: string;
  /** 0 = default columns, >0 only with `-o wide`. */
  priority?: number;
  /** e.g. ".spec.nodeName", ".spec.accessibility.nodes[0]". */
  jsonPath: string;
}

export const col = (name: string, type: PrinterColumn["type"], jsonPath: string, priority = 0): PrinterColumn =>
  priority ? { name, type, jsonPath, priority } : { name, type, jsonPath };

/** The standard `age` column (`.metadata.creationTimestamp`). */
export const ageColumn = (name = "age"): PrinterColumn => col(name, "date", ".metadata.creationTimestamp");

export interface KindDefinition<S extends TSchema = TSchema> extends KindNames {
  group: string;
  version: string;
  apiVersion: string;
  scope: "Cluster";
  /** Every kind has a /status subresource. */
  hasStatus: true;
  printerColumns: PrinterColumn[];
  /**
   * JSON paths a field selector may use (the CRD's `selectableFields`: Kubernetes 1.31 beta, on by default; 1.32
   * GA; the embedded API server too). Clients fall back when an older server refuses them.
   */
  selectableFields?: string[];
  /** The whole-object schema (typebox; plain JSON Schema underneath). */
  schema: S;
}

export function defineKind<S extends TSchema>(kind: Kind, schema: S, printerColumns: PrinterColumn[]): KindDefinition<S> {
  return {
    ...KindNamesTable[kind],
    group: GROUP,
    version: VERSION,
    apiVersion: API_VERSION,
    scope: "Cluster",
    hasStatus: true,
    printerColumns,
    schema,
  };
}
