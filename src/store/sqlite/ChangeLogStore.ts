/** ChangeLogStore on SQLite: the implementation of src/store/ChangeLogStore.ts. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { ChangeEvent } from "../../domain/ChangeEvent.js"
import { ReadSql } from "../ReadSql.js"
import { ChangeLogStore, type OffsetRow } from "../ChangeLogStore.js"

interface ChangeRow {
  readonly seq: number
  readonly entity: string
  readonly entityId: string
  readonly event: string
  readonly payload: string
  readonly createdAt: number
}

const toEvent = (r: ChangeRow) =>
  new ChangeEvent({ ...r, payload: JSON.parse(r.payload) as unknown }, { disableValidation: true })

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const read = yield* ReadSql

  /** Changes after `seq`, in order, at most `limit` (primary key range scan). */
  const after = (seq: number, limit: number, until?: number) =>
    read<ChangeRow>`SELECT seq, entity, entity_id AS entityId, event, payload, created_at AS createdAt
                    FROM change_log WHERE seq > ${seq} ${until !== undefined ? read`AND seq < ${until}` : read``}
                    ORDER BY seq LIMIT ${limit}`.pipe(Effect.map((rows) => rows.map(toEvent)))

  /**
   * `after` and `prunedThrough` in one statement (one read snapshot). The outer row is there
   * even when no change is, to carry the oldest number.
   */
  const page = (seq: number, limit: number, until?: number) =>
    read<{ oldest: number | null } & ({ [K in keyof ChangeRow]: ChangeRow[K] } | { [K in keyof ChangeRow]: null })>`
      SELECT o.oldest AS oldest, c.* FROM (SELECT min(seq) AS oldest FROM change_log) AS o
      LEFT JOIN (SELECT seq, entity, entity_id AS entityId, event, payload, created_at AS createdAt FROM change_log
                 WHERE seq > ${seq} ${until !== undefined ? read`AND seq < ${until}` : read``}
                 ORDER BY seq LIMIT ${limit}) AS c ON 1
      ORDER BY c.seq`.pipe(Effect.map((found) => {
      const oldest = found[0]?.oldest ?? null
      return { rows: found.flatMap(({ oldest: _, ...r }) => r.seq === null ? [] : [toEvent(r)]), prunedThrough: oldest === null ? 0 : oldest - 1 }
    }))

  /** Without reading rows: the newest sequence after `seq`, and whether settings changed there. */
  const summaryAfter = (seq: number) =>
    read<{ newest: number | null; settings: number | null }>`
      SELECT max(seq) AS newest, max(CASE WHEN entity = 'settings' THEN seq END) AS settings
      FROM change_log WHERE seq > ${seq}`.pipe(Effect.map((r) => r[0]!))

  // Dense numbers from 1: every change below the oldest kept one was pruned.
  const bounds = read<{ oldest: number | null; newest: number | null }>`
    SELECT min(seq) AS oldest, max(seq) AS newest FROM change_log`.pipe(
    Effect.map((r) => ({ ...r[0]!, prunedThrough: r[0]!.oldest === null ? 0 : r[0]!.oldest - 1 }))
  )

  /** Numbers are dense (AUTOINCREMENT, and retention cuts only the oldest): the newest less `seq`. */
  const countAfter = (seq: number) =>
    Effect.map(bounds, (b) => Math.max(0, (b.newest ?? 0) - seq))

  const offset = (consumer: string) =>
    read<{ seq: number }>`SELECT seq FROM consumer_offsets WHERE consumer = ${consumer}`.pipe(
      Effect.map((r) => r[0]?.seq ?? null)
    )

  /** Inside the caller's write transaction. */
  const saveOffset = (consumer: string, seq: number, now: number) =>
    sql`INSERT INTO consumer_offsets (consumer, seq, updated_at) VALUES (${consumer}, ${seq}, ${now})
        ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`.pipe(Effect.asVoid)

  /** Every stored offset, the runtime's own included, by name (primary key order). */
  const offsets = read<OffsetRow>`SELECT consumer, seq, updated_at AS updatedAt FROM consumer_offsets ORDER BY consumer`

  const offsetRow = (consumer: string) =>
    read<OffsetRow>`SELECT consumer, seq, updated_at AS updatedAt FROM consumer_offsets WHERE consumer = ${consumer}`.pipe(
      Effect.map((r) => r[0])
    )

  /**
   * Inside the caller's write transaction: moves `consumer` to `seq` unless it has committed
   * further (one statement, so two commits can never interleave); returns whether it moved and
   * the offset it has now.
   */
  const commitOffset = (consumer: string, seq: number, now: number) =>
    Effect.gen(function* () {
      const moved = yield* sql<{ seq: number }>`
        INSERT INTO consumer_offsets (consumer, seq, updated_at) VALUES (${consumer}, ${seq}, ${now})
        ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
        WHERE excluded.seq >= consumer_offsets.seq
        RETURNING seq`
      if (moved.length > 0) return { moved: true, seq }
      const kept = yield* sql<{ seq: number }>`SELECT seq FROM consumer_offsets WHERE consumer = ${consumer}`
      return { moved: false, seq: kept[0]!.seq }
    })

  /** Inside the caller's write transaction; whether there was one. */
  const deleteOffset = (consumer: string) =>
    sql`DELETE FROM consumer_offsets WHERE consumer = ${consumer} RETURNING consumer`.pipe(Effect.map((r) => r.length > 0))

  /**
   * Settled attempts in (`seq`, `upTo`] (deliveries leaving `leased`) and notifications
   * created, for counters that catch up at scrape time: one indexed range read
   * instead of a subscription that handles every change as it happens.
   */
  /** Deliveries that went dead, or were created skipped, in (`seq`, `upTo`]. */
  const gaveUpAfter = (seq: number, upTo: number) =>
    read<{ seq: number; deliveryId: string; notificationId: string }>`
      SELECT seq, entity_id AS deliveryId, payload ->> 'notificationId' AS notificationId
      FROM change_log
      WHERE seq > ${seq} AND seq <= ${upTo} AND entity = 'delivery'
        AND (event = 'dead' OR (event = 'created' AND payload ->> 'status' = 'skipped'))
      ORDER BY seq`

  const countablesAfter = (seq: number, upTo: number) =>
    read<{ seq: number; entity: string; entityId: string; event: string; sink: string | null; errorCode: string | null; createdAt: number }>`
      SELECT seq, entity, entity_id AS entityId, event, payload ->> 'sink' AS sink,
             payload ->> 'errorCode' AS errorCode, created_at AS createdAt
      FROM change_log
      WHERE seq > ${seq} AND seq <= ${upTo}
        AND ((entity = 'notification' AND event = 'created')
          OR (entity = 'delivery' AND event IN ('sent', 'retry_wait', 'dead') AND payload ->> 'from' = 'leased'))
      ORDER BY seq`

  /**
   * Retention, inside the caller's write transaction: deletes the oldest changes made before
   * `before`, at most `limit`, never past `upTo` (what every in-process reader has read) and
   * never the newest row, so sequence numbers keep growing. Walks from the oldest row and
   * stops at the first one that is kept. Returns how many it deleted.
   */
  const prune = (before: number, upTo: number, limit: number) =>
    Effect.gen(function* () {
      const oldest = yield* sql<{ seq: number; createdAt: number }>`
        SELECT seq, created_at AS createdAt FROM change_log
        WHERE seq <= ${upTo} AND seq < (SELECT max(seq) FROM change_log)
        ORDER BY seq LIMIT ${limit}`
      let cut = 0
      for (const r of oldest) {
        if (r.createdAt >= before) break
        cut++
      }
      if (cut === 0) return 0
      yield* sql`DELETE FROM change_log WHERE seq <= ${oldest[cut - 1]!.seq}`
      return cut
    })

  return { denseSeq: true, after, page, summaryAfter, bounds, countAfter, offset, saveOffset, offsets, offsetRow, commitOffset, deleteOffset, prune, gaveUpAfter, countablesAfter } as const
})

/** ChangeLogStore on SQLite. */
export const sqliteChangeLogStore = Layer.effect(ChangeLogStore, make)
