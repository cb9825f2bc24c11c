/** NotificationStore on SQLite: the implementation of src/store/NotificationStore.ts. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Notification } from "../../domain/Notification.js"
import { insertSql, rowsPerStatement } from "./multiRow.js"
import { rawWrite } from "./rawWrite.js"
import { ReadSql } from "../ReadSql.js"
import { WriterDb } from "./WriterDb.js"
import { NotificationFilter, NotificationRow, NotificationStore } from "../NotificationStore.js"

const columns = `id, kind, priority, title, body, payload, dedupe_key AS dedupeKey, project_id AS projectId,
  session_id AS sessionId, created_at AS createdAt, routed_at AS routedAt`

const NotificationFromRow = Schema.Struct({
  ...Notification.fields,
  payload: Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
}).pipe(Schema.transform(Schema.typeSchema(Notification), {
  strict: true,
  decode: (row) => Notification.make(row),
  encode: (n) => ({ ...n })
}))

const notificationInsert = (rows: number) =>
  insertSql(`INSERT INTO notifications (id, kind, priority, title, body, payload, dedupe_key,
                                        project_id, session_id, created_at, routed_at)`,
    11, rows, "ON CONFLICT (dedupe_key) DO NOTHING")

const noDedupeKeyIn = (rows: ReadonlyArray<NotificationRow>, from: number, n: number) => {
  for (let j = from; j < from + n; j++) if (rows[j]!.dedupeKey !== null) return false
  return true
}

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const read = yield* ReadSql
  const { prepare } = yield* WriterDb

  /**
   * Inserts rows in order (prepared multi-row statements: cheaper than one JSON statement
   * for the batch, or one run per row); a row whose dedupe key exists is not inserted. Returns the ids actually
   * inserted. Runs inside the caller's write transaction.
   */
  const insertMany = (rows: ReadonlyArray<NotificationRow>) =>
    rawWrite("insert notifications", () => {
      const insert = prepare(notificationInsert(1))
      const insertChunk = prepare(notificationInsert(rowsPerStatement))
      const inserted = new Set<string>()
      const params: Array<unknown> = []
      const push = (r: NotificationRow) =>
        params.push(r.id, r.kind, r.priority, r.title, r.body, r.payload, r.dedupeKey, r.projectId, r.sessionId, r.createdAt, r.routedAt)
      let i = 0
      while (i < rows.length) {
        params.length = 0
        // Rows without a dedupe key cannot conflict (their ids are fresh): one statement for a run of them.
        if (i + rowsPerStatement <= rows.length && noDedupeKeyIn(rows, i, rowsPerStatement)) {
          for (let j = i; j < i + rowsPerStatement; j++) (push(rows[j]!), inserted.add(rows[j]!.id))
          insertChunk.run(params)
          i += rowsPerStatement
          continue
        }
        const r = rows[i++]!
        push(r)
        if (insert.run(params).changes > 0) inserted.add(r.id)
      }
      return inserted
    })

  /** Existing notifications by dedupe key, on the writer (inside the enqueue transaction). */
  const byDedupeKeys = (keys: ReadonlyArray<string>) =>
    sql`SELECT ${sql.literal(columns)} FROM notifications
        WHERE dedupe_key IN (SELECT value FROM json_each(jsonb(${JSON.stringify(keys)})))`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(NotificationFromRow))),
      Effect.orDie
    )

  const markRouted = (ids: ReadonlyArray<string>, at: number) =>
    sql`UPDATE notifications SET routed_at = ${at}
        WHERE id IN (SELECT value FROM json_each(jsonb(${JSON.stringify(ids)}))) AND routed_at IS NULL`

  /** Notifications that waited while routing was off (index notifications_unrouted). */
  const unrouted = (limit: number) =>
    sql`SELECT ${sql.literal(columns)} FROM notifications WHERE routed_at IS NULL
        ORDER BY created_at LIMIT ${limit}`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(NotificationFromRow))),
      Effect.orDie
    )

  const get = SqlSchema.findOne({
    Request: Schema.String,
    Result: NotificationFromRow,
    execute: (id) => read`SELECT ${read.literal(columns)} FROM notifications WHERE id = ${id}`
  })

  /** Keyset pagination on id (ids are time-ordered), newest first. */
  const list = (f: NotificationFilter) =>
    read`SELECT ${read.literal(columns)} FROM notifications WHERE ${read.and([
      f.kind !== undefined ? read`kind = ${f.kind}` : read`1 = 1`,
      f.priority !== undefined ? read`priority = ${f.priority}` : read`1 = 1`,
      f.projectId !== undefined ? read`project_id = ${f.projectId}` : read`1 = 1`,
      f.sessionId !== undefined ? read`session_id = ${f.sessionId}` : read`1 = 1`,
      f.since !== undefined ? read`created_at >= ${f.since}` : read`1 = 1`,
      f.after !== undefined ? read`id < ${f.after}` : read`1 = 1`
    ])} ORDER BY id DESC LIMIT ${f.limit + 1}`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(NotificationFromRow))),
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

/** NotificationStore on SQLite. */
export const sqliteNotificationStore = Layer.effect(NotificationStore, make)
