// Event (`evt`, §1.17, §10): the audit log of one resource; name `lower("<resourceType>-<resourceName>")`.
// Not core/v1 Event: this is hwameistor.io/v1alpha1 Event.

import { Type, type Static } from "typebox";
import { EVENT_RESOURCE_TYPES, Kinds } from "../names.ts";
import { DateTime, EmptyStatus, Opt, Str, StrEnum, col, defineKind, kindObject } from "./common.ts";

export const EventRecord = Type.Object({
  time: Opt(DateTime()),
  id: Opt(Str()),
  action: Opt(Str()),
  actionContent: Opt(Str({ description: "JSON string" })),
  state: Opt(Str()),
  stateContent: Opt(Str({ description: "JSON string" })),
});
export type EventRecord = Static<typeof EventRecord>;

export const EventSpec = Type.Object({
  resourceType: StrEnum(EVENT_RESOURCE_TYPES),
  resourceName: Str(),
  records: Opt(Type.Array(EventRecord)),
});
export type EventSpec = Static<typeof EventSpec>;

export const EventStatus = EmptyStatus;
export type EventStatus = Static<typeof EventStatus>;

export const EventSchema = kindObject(EventSpec, EventStatus, "Event is the audit log of one HwameiStor resource");
export type Event = Static<typeof EventSchema>;

export const eventKind = defineKind(Kinds.Event, EventSchema, [col("type", "string", ".spec.resourceType"), col("resource", "string", ".spec.resourceName")]);
