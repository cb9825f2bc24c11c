/**
 * NotificationStore on PostgreSQL: the implementation of src/store/NotificationStore.ts. A batch
 * is one statement over arrays (unnest); the payload column is `json`, read back as its text
 * so rows decode with the same Schema as SQLite's.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Notification } from "../../domain/Notification.js"
import { NotificationFilter, NotificationRow, NotificationStore } from "../NotificationStore.js"
import { ReadSql } from "../ReadSql.js"

/** The row as read: `payload::text` is the document exactly as written (`json` keeps it so). */
const columns = `id, kind, priority, title, body, payload::text AS payload, dedupe_key AS "dedupeKey",
  project_id AS "projectId", session_id AS "sessionId", created_at AS "createdAt", routed_at AS "routedAt"`

const NotificationFromRow = Schema.Struct({
  ...Notification.fields,
  payload: Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
}).pipe(Schema.transform(Schema.typeSchema(Notification), {
  strict: true,
  decode: (row) => Notification.make(row),
  encode: (n) => ({ ...n })
}))

const decodeRows = Schema.decodeUnknown(Schema.Array(NotificationFromRow))

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const read = yield* ReadSql

  /**
   * Inserts rows in order, in one statement (one array parameter per column, so any batch is
   * eleven parameters); a row whose dedupe key exists, or came earlier in the batch, is not
   * inserted. Returns the ids actually inserted. Runs inside the caller's write transaction.
   */
  const insertMany = (rows: ReadonlyArray<NotificationRow>) =>
    rows.length === 0
      ? Effect.succeed(new Set<string>())
      : sql<{ id: string }>`
          INSERT INTO notifications (id, kind, priority, title, body, payload, dedupe_key,
                                     project_id, session_id, created_at, routed_at)
          SELECT id, kind, priority, title, body, payload::json, dedupe_key, project_id, session_id, created_at, routed_at
          FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.kind)}::text[],
                      ${rows.map((r) => r.priority)}::text[], ${rows.map((r) => r.title)}::text[],
                      ${rows.map((r) => r.body)}::text[], ${rows.map((r) => r.payload)}::text[],
                      ${rows.map((r) => r.dedupeKey)}::text[], ${rows.map((r) => r.projectId)}::text[],
                      ${rows.map((r) => r.sessionId)}::text[], ${rows.map((r) => r.createdAt)}::bigint[],
                      ${rows.map((r) => r.routedAt)}::bigint[])
            WITH ORDINALITY AS r (id, kind, priority, title, body, payload, dedupe_key, project_id,
                                  session_id, created_at, routed_at, ord)
          ORDER BY ord
          ON CONFLICT (dedupe_key) DO NOTHING
          RETURNING id`.pipe(Effect.map((inserted) => new Set(inserted.map((r) => r.id))))

  /** Existing notifications by dedupe key, on the writer (inside the enqueue transaction). */
  const byDedupeKeys = (keys: ReadonlyArray<string>) =>
    sql`SELECT ${sql.literal(columns)} FROM notifications WHERE dedupe_key = ANY(${keys}::text[])`.pipe(
      Effect.flatMap(decodeRows),
      Effect.orDie
    )

  const markRouted = (ids: ReadonlyArray<string>, at: number) =>
    sql`UPDATE notifications SET routed_at = ${at} WHERE id = ANY(${ids}::text[]) AND routed_at IS NULL`

  /** Notifications that waited while routing was off (index notifications_unrouted). */
  const unrouted = (limit: number) =>
    sql`SELECT ${sql.literal(columns)} FROM notifications WHERE routed_at IS NULL
        ORDER BY created_at LIMIT ${limit}`.pipe(
      Effect.flatMap(decodeRows),
      Effect.orDie
    )

  const get = SqlSchema.findOne({
    Request: Schema.String,
    Result: NotificationFromRow,
    execute: (id) => read`SELECT ${read.literal(columns)} FROM notifications WHERE id = ${id}`
  })

  /** Keyset pagination on id (ids are time-ordered), newest first (the primary key, backwards). */
  const list = (f: NotificationFilter) =>
    read`SELECT ${read.literal(columns)} FROM notifications WHERE ${read.and([
      f.kind !== undefined ? read`kind = ${f.kind}` : read`TRUE`,
      f.priority !== undefined ? read`priority = ${f.priority}` : read`TRUE`,
      f.projectId !== undefined ? read`project_id = ${f.projectId}` : read`TRUE`,
      f.sessionId !== undefined ? read`session_id = ${f.sessionId}` : read`TRUE`,
      f.since !== undefined ? read`created_at >= ${f.since}` : read`TRUE`,
      f.after !== undefined ? read`id < ${f.after}` : read`TRUE`
    ])} ORDER BY id DESC LIMIT ${f.limit + 1}`.pipe(
      Effect.flatMap(decodeRows),
      Effect.orDie,
      Effect.map((rows) => ({
        items: rows.slice(0, f.limit),
        next: rows.length > f.limit ? rows[f.limit - 1]!.id : null
      }))
    )

  return {
    insertMany,
    byDedupeKeys,
    markRouted,
    unrouted,
    get: (id: string) => get(id).pipe(Effect.orDie, Effect.map(Option.getOrUndefined)),
    list
  } as const
})

/** NotificationStore on PostgreSQL. */
export const pgNotificationStore = Layer.effect(NotificationStore, make)
