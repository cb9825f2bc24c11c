/** Notifications in SQLite: batch insert with dedupe, routing marks, reads. SQL only here. */
import { Context, Effect, Schema } from "effect"
import { Notification } from "../domain/Notification.js"
import { Priority } from "../domain/Priority.js"
import type { SqlError } from "./errors.js"
import type { NotificationId } from "../domain/Ids.js"

/** A notification row as the writer inserts it. */
export interface NotificationRow {
  readonly id: string
  readonly kind: string
  readonly priority: Priority
  readonly title: string
  readonly body: string
  readonly payload: string
  readonly dedupeKey: string | null
  readonly projectId: string | null
  readonly sessionId: string | null
  readonly createdAt: number
  readonly routedAt: number | null
}

export const NotificationFilter = Schema.Struct({
  kind: Schema.optional(Schema.String),
  priority: Schema.optional(Priority),
  projectId: Schema.optional(Schema.String),
  sessionId: Schema.optional(Schema.String),
  since: Schema.optional(Schema.Number),
  after: Schema.optional(Schema.String),
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1_000)), { default: () => 100 })
})

export type NotificationFilter = typeof NotificationFilter.Type

export interface NotificationStoreShape {
  /** Inserts rows in order (prepared multi-row statements: cheaper than one JSON statement for the batch, or one run per row); a row whose dedupe key exists is not inserted. Returns the ids actually inserted. Runs inside the caller's write transaction. */
  readonly insertMany: (rows: ReadonlyArray<NotificationRow>) => Effect.Effect<Set<string>, SqlError, never>
  /** Existing notifications by dedupe key, on the writer (inside the enqueue transaction). */
  readonly byDedupeKeys: (keys: ReadonlyArray<string>) => Effect.Effect<readonly Notification[], never, never>
  readonly markRouted: (ids: ReadonlyArray<string>, at: number) => Effect.Effect<ReadonlyArray<unknown>, SqlError>
  /** Notifications that waited while routing was off (index notifications_unrouted). */
  readonly unrouted: (limit: number) => Effect.Effect<readonly Notification[], never, never>
  readonly get: (id: string) => Effect.Effect<Notification | undefined, never, never>
  /** Keyset pagination on id (ids are time-ordered), newest first. */
  readonly list: (f: NotificationFilter) => Effect.Effect<{ items: Notification[]; next: NotificationId | null; }, never, never>
}

export class NotificationStore extends Context.Tag("herald/NotificationStore")<NotificationStore, NotificationStoreShape>() {}
