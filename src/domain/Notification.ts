/** A notification as enqueued (the input) and as stored. Routing and delivery are elsewhere. */
import { Schema } from "effect"
import type { InvalidInput } from "./errors.js"
import { NotificationId } from "./Ids.js"
import { maxPayloadDepth, valueExceeds } from "./nesting.js"
import { Priority } from "./Priority.js"
import { NonEmptyText, Text } from "./Text.js"

export { isStorableText } from "./Text.js"

/** Free-form JSON, nested at most `maxPayloadDepth` levels (SQLite refuses more than 1,000). */
const Payload = Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
  Schema.filter((p) => valueExceeds(p, maxPayloadDepth) === undefined ||
    `nests deeper than ${maxPayloadDepth} levels of arrays and objects (or refers to itself)`)
)

/** What an app enqueues. Everything but `kind` and `title` is optional. */
export const NotificationInput = Schema.Struct({
  kind: NonEmptyText(200),
  priority: Schema.optionalWith(Priority, { default: () => "normal" as const }),
  title: NonEmptyText(1_000),
  body: Schema.optionalWith(Text(65_536), { default: () => "" }),
  payload: Schema.optionalWith(Payload, { default: () => ({}) }),
  dedupeKey: Schema.optional(NonEmptyText(200)),
  projectId: Schema.optional(NonEmptyText(200)),
  sessionId: Schema.optional(NonEmptyText(200))
})
export type NotificationInput = typeof NotificationInput.Type
export type NotificationInputEncoded = typeof NotificationInput.Encoded

export class Notification extends Schema.Class<Notification>("Notification")({
  id: NotificationId,
  kind: Schema.String,
  priority: Priority,
  title: Schema.String,
  body: Schema.String,
  payload: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  dedupeKey: Schema.NullOr(Schema.String),
  projectId: Schema.NullOr(Schema.String),
  sessionId: Schema.NullOr(Schema.String),
  createdAt: Schema.Number,
  routedAt: Schema.NullOr(Schema.Number)
}) {}

/** The answer to an enqueue: the notification, and whether this call created it. */
export interface Enqueued {
  readonly notification: Notification
  readonly created: boolean
}

/**
 * One item's answer to a batch enqueue, at its index in the batch: enqueued (created, or the
 * existing notification of its dedupeKey), or rejected with why (paths within the item).
 */
export type BatchItemResult =
  | { readonly _tag: "Enqueued"; readonly index: number; readonly created: boolean; readonly notification: Notification }
  | { readonly _tag: "Rejected"; readonly index: number; readonly error: InvalidInput }
