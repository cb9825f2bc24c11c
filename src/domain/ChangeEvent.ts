/** One row of `change_log` as published to subscribers: what changed, in commit order. */
import { Schema } from "effect"

export class ChangeEvent extends Schema.Class<ChangeEvent>("ChangeEvent")({
  seq: Schema.Number,
  entity: Schema.String,
  entityId: Schema.String,
  event: Schema.String,
  payload: Schema.Unknown,
  createdAt: Schema.Number
}) {}

/** Told to a subscriber whose requested start is older than what retention kept: reload, then follow. */
export class Resync extends Schema.TaggedClass<Resync>()("Resync", {
  requestedAfter: Schema.Number,
  oldestAvailable: Schema.Number
}) {}
