/**
 * HistoryStore on PostgreSQL: the implementation of src/store/HistoryStore.ts. Writers run
 * side by side here, so what the sweep chose is locked and checked again before it deletes.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { HistoryStore, type SweepStep } from "../HistoryStore.js"

/** Delivery statuses after which nothing more can happen to a notification without a person. */
const over = "('sent', 'skipped', 'cancelled')"

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  /** Whether notification `n` must stay: not routed yet, or a delivery not over before `before`. */
  const kept = (before: number) =>
    sql`(n.routed_at IS NULL OR EXISTS (
           SELECT 1 FROM deliveries d WHERE d.notification_id = n.id
             AND (d.status NOT IN ${sql.literal(over)} OR d.updated_at >= ${before})))`

  /**
   * The chosen notifications that may still go, locked: their rows (FOR UPDATE, so no new
   * delivery can reference them) and their deliveries (so none changes, and no attempt row is
   * added), then the rule again on a fresh READ COMMITTED snapshot taken after the locks: a
   * delivery requeued by a transaction that committed since the first read keeps its notification.
   */
  const lockDeletable = (ids: ReadonlyArray<string>, before: number) =>
    Effect.gen(function* () {
      yield* sql`SELECT id FROM notifications WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`
      yield* sql`SELECT id FROM deliveries WHERE notification_id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`
      const still = yield* sql<{ id: string }>`
        SELECT n.id FROM notifications n WHERE n.id = ANY(${ids}::text[]) AND NOT ${kept(before)}`
      return still.map((r) => r.id)
    })

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
      const candidates = yield* sql<{ id: string; createdAt: number; keep: boolean }>`
        SELECT n.id, n.created_at AS "createdAt", ${kept(before)} AS keep
        FROM notifications n WHERE n.id > ${cursor} ORDER BY n.id LIMIT ${limit}`
      const recent = candidates.findIndex((c) => c.createdAt >= before)
      const examined = recent === -1 ? candidates : candidates.slice(0, recent)
      const chosen = examined.filter((c) => !c.keep).map((c) => c.id)
      const ids = chosen.length > 0 ? yield* lockDeletable(chosen, before) : []
      if (ids.length > 0) {
        yield* sql`DELETE FROM delivery_attempts a USING deliveries d
                   WHERE a.delivery_id = d.id AND d.notification_id = ANY(${ids}::text[])`
        yield* sql`DELETE FROM deliveries WHERE notification_id = ANY(${ids}::text[])`
        yield* sql`DELETE FROM notifications WHERE id = ANY(${ids}::text[])`
      }
      return {
        deleted: ids.length,
        cursor: examined.at(-1)?.id ?? cursor,
        done: recent !== -1 || candidates.length < limit
      } satisfies SweepStep
    })

  return { sweep } as const
})

/** HistoryStore on PostgreSQL. */
export const pgHistoryStore = Layer.effect(HistoryStore, make)
