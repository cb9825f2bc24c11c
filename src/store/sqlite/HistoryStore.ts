/** HistoryStore on SQLite: the implementation of src/store/HistoryStore.ts. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { HistoryStore, SweepStep } from "../HistoryStore.js"

/** Delivery statuses after which nothing more can happen to a notification without a person. */
const over = "('sent', 'skipped', 'cancelled')"

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  /**
   * One step of a sweep in id order (ids grow with time): examines at most `limit`
   * notifications after `cursor`, stops at the first created at or after `before`, and deletes
   * those that were routed and whose deliveries were all over before `before`. A notification
   * with a dead, waiting or leased delivery is kept, and so is one that finished since (a dead
   * letter requeued and sent lately). Runs inside the caller's write transaction.
   *
   * Stopping at the first recent id assumes ids grow with creation time: after the clock of a
   * process stepped back, its later ids run ahead of their time and are swept a little late,
   * never early.
   */
  const sweep = (cursor: string, before: number, limit: number) =>
    Effect.gen(function* () {
      const candidates = yield* sql<{ id: string; createdAt: number; keep: number }>`
        SELECT n.id, n.created_at AS createdAt,
               n.routed_at IS NULL OR EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.notification_id = n.id
                   AND (d.status NOT IN ${sql.literal(over)} OR d.updated_at >= ${before})
               ) AS keep
        FROM notifications n WHERE n.id > ${cursor} ORDER BY n.id LIMIT ${limit}`
      const recent = candidates.findIndex((c) => c.createdAt >= before)
      const examined = recent === -1 ? candidates : candidates.slice(0, recent)
      const ids = examined.filter((c) => !c.keep).map((c) => c.id)
      if (ids.length > 0) {
        const list = JSON.stringify(ids)
        yield* sql`DELETE FROM delivery_attempts WHERE delivery_id IN (
                     SELECT d.id FROM deliveries d WHERE d.notification_id IN (SELECT value FROM json_each(jsonb(${list}))))`
        yield* sql`DELETE FROM deliveries WHERE notification_id IN (SELECT value FROM json_each(jsonb(${list})))`
        yield* sql`DELETE FROM notifications WHERE id IN (SELECT value FROM json_each(jsonb(${list})))`
      }
      return {
        deleted: ids.length,
        cursor: examined.at(-1)?.id ?? cursor,
        done: recent !== -1 || candidates.length < limit
      } satisfies SweepStep
    })

  return { sweep } as const
})

/** HistoryStore on SQLite. */
export const sqliteHistoryStore = Layer.effect(HistoryStore, make)
