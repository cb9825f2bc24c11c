/**
 * ChangeLogStore on PostgreSQL: the implementation of src/store/ChangeLogStore.ts. Every read
 * that lets a reader move (the rows, the newest number) stays below the horizon of
 * changeFeed.ts, so no cursor passes a change that commits late. Rows are the triggers'.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { ChangeEvent } from "../../domain/ChangeEvent.js"
import { ChangeLogStore, type OffsetRow } from "../ChangeLogStore.js"
import { ReadSql } from "../ReadSql.js"
import { belowHorizon, changesAfter, type ChangeRow } from "./changeFeed.js"

/** The payload is jsonb, parsed by the driver: the event as SQLite's store builds it. */
const toEvent = (r: ChangeRow) => new ChangeEvent(r, { disableValidation: true })

/** The offset row where retention records the newest change it deleted (names starting `herald` are Herald's own). */
const prunedMark = "herald.pruned"

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const read = yield* ReadSql
  const horizon = read.literal(belowHorizon)

  /**
   * Changes after `seq`, in order, at most `limit` (primary key range scan), of ended
   * transactions only. ReadSql is the pool: inside a transaction that has written, its own xid
   * holds the horizon and the answer is older, never ahead.
   */
  const after = (seq: number, limit: number, until?: number) =>
    changesAfter(seq, limit, until).pipe(
      Effect.provideService(SqlClient.SqlClient, read),
      Effect.map((rows) => rows.map(toEvent))
    )

  /**
   * `after` and `prunedThrough` in one statement (one snapshot: retention deletes the rows and
   * moves the mark in one transaction, so a page sees both or neither). The outer row is there
   * even when no change is, to carry the mark.
   */
  const page = (seq: number, limit: number, until?: number) =>
    read<{ prunedThrough: number } & ({ [K in keyof ChangeRow]: ChangeRow[K] } | { [K in keyof ChangeRow]: null })>`
      SELECT p.pruned AS "prunedThrough", c.* FROM
        (SELECT coalesce((SELECT seq FROM consumer_offsets WHERE consumer = ${prunedMark}), 0) AS pruned) AS p
        LEFT JOIN LATERAL (
          SELECT seq, entity, entity_id AS "entityId", event, payload, created_at AS "createdAt" FROM change_log
          WHERE seq > ${seq} ${until !== undefined ? read`AND seq < ${until}` : read``} AND ${horizon}
          ORDER BY seq LIMIT ${limit}) AS c ON true
      ORDER BY c.seq`.pipe(Effect.map((found) => ({
      rows: found.flatMap(({ prunedThrough: _, ...r }) => r.seq === null ? [] : [toEvent(r)]),
      prunedThrough: found[0]?.prunedThrough ?? 0
    })))

  /**
   * Without reading rows: the newest sequence after `seq`, and whether settings changed there.
   * Below the horizon, so the supervisor that skips to `newest` skips nothing that commits late.
   */
  const summaryAfter = (seq: number) =>
    read<{ newest: number | null; settings: number | null }>`
      SELECT max(seq) AS newest, max(CASE WHEN entity = 'settings' THEN seq END) AS settings
      FROM change_log WHERE seq > ${seq} AND ${horizon}`.pipe(Effect.map((r) => r[0]!))

  /** Both below the horizon: `newest` is where a new reader starts, so nothing after it may still appear before it. */
  // Numbers are not dense: retention records the newest change it deleted (a Herald-own offset row).
  const bounds = read<{ oldest: number | null; newest: number | null; prunedThrough: number }>`
    SELECT min(seq) AS oldest, max(seq) AS newest,
           coalesce((SELECT seq FROM consumer_offsets WHERE consumer = ${prunedMark}), 0) AS "prunedThrough"
    FROM change_log WHERE ${horizon}`.pipe(Effect.map((r) => r[0]!))

  /** A count over the primary key range, below the horizon (what a reader could read now). */
  const countAfter = (seq: number) =>
    read<{ n: number }>`SELECT count(*) AS n FROM change_log WHERE seq > ${seq} AND ${horizon}`.pipe(Effect.map((r) => r[0]!.n))

  const offset = (consumer: string) =>
    read<{ seq: number }>`SELECT seq FROM consumer_offsets WHERE consumer = ${consumer}`.pipe(
      Effect.map((r) => r[0]?.seq ?? null)
    )

  /**
   * Inside the caller's write transaction. Every process's supervisor saves the same row once a
   * second: one whose row another transaction is saving right now skips this save instead of
   * waiting on its row lock (that wait held a pooled connection, and the supervisor, for as long
   * as the other process took to commit). The value is where a starting supervisor resumes.
   */
  const saveOffset = (consumer: string, seq: number, now: number) =>
    sql`INSERT INTO consumer_offsets (consumer, seq, updated_at)
        SELECT ${consumer}, ${seq}, ${now} WHERE pg_try_advisory_xact_lock(hashtextextended('herald/offset/' || ${consumer}, 0))
        ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`.pipe(Effect.asVoid)

  /** Every stored offset, the runtime's own included, by name (primary key order). */
  const offsets = read<OffsetRow>`SELECT consumer, seq, updated_at AS "updatedAt" FROM consumer_offsets ORDER BY consumer`

  const offsetRow = (consumer: string) =>
    read<OffsetRow>`SELECT consumer, seq, updated_at AS "updatedAt" FROM consumer_offsets WHERE consumer = ${consumer}`.pipe(
      Effect.map((r) => r[0])
    )

  /**
   * Inside the caller's write transaction: moves `consumer` to `seq` unless it has committed
   * further (one statement, so two commits can never interleave); returns whether it moved and
   * the offset it has now. The same seq again moves (a retried commit is accepted), as on
   * SQLite. When it did not move, ON CONFLICT has locked the row, so the read that follows (a
   * fresh READ COMMITTED snapshot) sees the offset that refused it, and it cannot change before
   * this transaction ends.
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
   * created, for counters that catch up at scrape time: one indexed range read instead of a
   * subscription that handles every change as it happens. `upTo` is a newest of `bounds`, below
   * the horizon, so every change up to it has ended: the range holds all it ever will.
   */
  /** Deliveries that went dead, or were created skipped, in (`seq`, `upTo`]. */
  const gaveUpAfter = (seq: number, upTo: number) =>
    read<{ seq: number; deliveryId: string; notificationId: string }>`
      SELECT seq, entity_id AS "deliveryId", payload ->> 'notificationId' AS "notificationId"
      FROM change_log
      WHERE seq > ${seq} AND seq <= ${upTo} AND entity = 'delivery'
        AND (event = 'dead' OR (event = 'created' AND payload ->> 'status' = 'skipped'))
      ORDER BY seq`

  const countablesAfter = (seq: number, upTo: number) =>
    read<{ seq: number; entity: string; entityId: string; event: string; sink: string | null; errorCode: string | null; createdAt: number }>`
      SELECT seq, entity, entity_id AS "entityId", event, payload ->> 'sink' AS sink,
             payload ->> 'errorCode' AS "errorCode", created_at AS "createdAt"
      FROM change_log
      WHERE seq > ${seq} AND seq <= ${upTo}
        AND ((entity = 'notification' AND event = 'created')
          OR (entity = 'delivery' AND event IN ('sent', 'retry_wait', 'dead') AND payload ->> 'from' = 'leased'))
      ORDER BY seq`

  /**
   * Retention, inside the caller's write transaction: deletes the oldest changes made before
   * `before`, at most `limit`, never past `upTo` (what every in-process reader has read) and
   * never the newest row. Walks from the oldest row and stops at the first one that is kept.
   * Returns how many it deleted. (Numbers come from transaction ids here and grow anyway;
   * keeping the newest row keeps `bounds` answering as on SQLite.)
   */
  const prune = (before: number, upTo: number, limit: number) =>
    Effect.gen(function* () {
      const oldest = yield* sql<{ seq: number; createdAt: number }>`
        SELECT seq, created_at AS "createdAt" FROM change_log
        WHERE seq <= ${upTo} AND seq < (SELECT max(seq) FROM change_log)
        ORDER BY seq LIMIT ${limit}`
      let cut = 0
      for (const r of oldest) {
        if (r.createdAt >= before) break
        cut++
      }
      if (cut === 0) return 0
      const through = oldest[cut - 1]!.seq
      yield* sql`DELETE FROM change_log WHERE seq <= ${through}`
      yield* sql`INSERT INTO consumer_offsets (consumer, seq, updated_at) VALUES (${prunedMark}, ${through}, ${before})
                 ON CONFLICT (consumer) DO UPDATE SET seq = GREATEST(consumer_offsets.seq, excluded.seq), updated_at = excluded.updated_at`
      return cut
    })

  return { denseSeq: false, after, page, summaryAfter, bounds, countAfter, offset, saveOffset, offsets, offsetRow, commitOffset, deleteOffset, prune, gaveUpAfter, countablesAfter } as const
})

/** ChangeLogStore on PostgreSQL. */
export const pgChangeLogStore = Layer.effect(ChangeLogStore, make)
