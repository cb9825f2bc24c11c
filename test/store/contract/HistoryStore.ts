/**
 * The HistoryStore contract, run on SQLite and PostgreSQL: a sweep deletes routed notifications
 * whose deliveries were all over before the cutoff, with their deliveries and attempts, walks
 * in id order by steps of `limit`, stops at the first recent one, and keeps a notification whose
 * delivery a concurrent transaction brings back.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, type Scope } from "effect"
import { HistoryStore } from "../../../src/store/HistoryStore.js"
import { Writer } from "../../../src/store/Writer.js"
import { eventually, stays } from "../../support/herald.js"
import type { Engine, Storage } from "./engines.js"

const write = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flatMap(Writer, (w) => w.transaction(effect))

const notification = (id: string, createdAt: number, routedAt: number | null) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO notifications (id, kind, priority, title, created_at, routed_at) VALUES (${id}, 'k', 'normal', 't', ${createdAt}, ${routedAt})`)

const delivery = (id: string, notificationId: string, status: string, updatedAt: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, created_at, updated_at)
        VALUES (${id}, ${notificationId}, ${`sink_${id}`}, ${status}, 3, 1, ${updatedAt})`)

const attempt = (deliveryId: string, n: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO delivery_attempts (delivery_id, attempt, outcome, finished_at) VALUES (${deliveryId}, ${n}, 'failed', 1)`)

const ids = (table: "notifications" | "deliveries") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.map(sql<{ id: string }>`SELECT id FROM ${sql(table)} ORDER BY id`, (r) => r.map((x) => x.id)))

const attemptsOf = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(sql<{ deliveryId: string }>`SELECT delivery_id AS "deliveryId" FROM delivery_attempts ORDER BY delivery_id, attempt`, (r) => r.map((x) => x.deliveryId)))

const before = 100

/** n1..n7 in id (and creation) order; which go at `before` is in each comment. */
const seed = write(Effect.gen(function* () {
  yield* notification("n1", 1, 2) // sent before: goes
  yield* delivery("d1", "n1", "sent", 10)
  yield* attempt("d1", 1)
  yield* notification("n2", 2, 3) // dead: kept
  yield* delivery("d2", "n2", "dead", 10)
  yield* attempt("d2", 1)
  yield* notification("n3", 3, 4) // sent and skipped before: goes, attempts too
  yield* delivery("d3a", "n3", "sent", 10)
  yield* delivery("d3b", "n3", "skipped", 20)
  yield* attempt("d3a", 1)
  yield* attempt("d3a", 2)
  yield* notification("n4", 4, null) // never routed: kept
  yield* notification("n5", 5, 6) // sent, but at the cutoff: kept
  yield* delivery("d5", "n5", "sent", before)
  yield* notification("n6", 6, 7) // cancelled before: goes
  yield* delivery("d6", "n6", "cancelled", 30)
  yield* notification("n7", before, before) // created at the cutoff: the sweep stops here
  yield* delivery("d7", "n7", "sent", 10)
}))

export const historyStoreContract = (engine: Engine<HistoryStore>) =>
  describe(`HistoryStore on ${engine.name}`, () => {
    const test = <A, E>(name: string, body: Effect.Effect<A, E, HistoryStore | Storage | Scope.Scope>) =>
      it.scoped(name, () => Effect.provide(body, engine.storage))

    test("one sweep deletes the finished notifications with their deliveries and attempts, and stops at the first recent one", Effect.gen(function* () {
      const history = yield* HistoryStore
      yield* seed
      expect(yield* write(history.sweep("", before, 100))).toEqual({ deleted: 3, cursor: "n6", done: true })
      expect(yield* ids("notifications")).toEqual(["n2", "n4", "n5", "n7"])
      expect(yield* ids("deliveries")).toEqual(["d2", "d5", "d7"])
      expect(yield* attemptsOf).toEqual(["d2"])
      // Again from the cursor: nothing more until the cutoff moves.
      expect(yield* write(history.sweep("n6", before, 100))).toEqual({ deleted: 0, cursor: "n6", done: true })
      // Later, the cutoff past everything: n5 and n7 are over before it, n2 and n4 are not.
      expect(yield* write(history.sweep("", 1_000, 100))).toEqual({ deleted: 2, cursor: "n7", done: true })
      expect(yield* ids("notifications")).toEqual(["n2", "n4"])
    }))

    test("a sweep walks by steps of limit, each after the last cursor, until it reaches a recent notification", Effect.gen(function* () {
      const history = yield* HistoryStore
      yield* seed
      const steps: Array<unknown> = []
      let cursor = ""
      for (let i = 0; i < 10; i++) {
        const step = yield* write(history.sweep(cursor, before, 2))
        steps.push(step)
        cursor = step.cursor
        if (step.done) break
      }
      expect(steps).toEqual([
        { deleted: 1, cursor: "n2", done: false },
        { deleted: 1, cursor: "n4", done: false },
        { deleted: 1, cursor: "n6", done: false },
        { deleted: 0, cursor: "n6", done: true }
      ])
      expect(yield* ids("notifications")).toEqual(["n2", "n4", "n5", "n7"])
    }))

    test("the end of the table ends the sweep; an empty table is done at once", Effect.gen(function* () {
      const history = yield* HistoryStore
      expect(yield* write(history.sweep("", before, 10))).toEqual({ deleted: 0, cursor: "", done: true })
      yield* write(Effect.zipRight(notification("n1", 1, 2), delivery("d1", "n1", "sent", 10)))
      expect(yield* write(history.sweep("", before, 1))).toEqual({ deleted: 1, cursor: "n1", done: false })
      expect(yield* write(history.sweep("n1", before, 1))).toEqual({ deleted: 0, cursor: "n1", done: true })
    }))

    test("a delivery brought back by a transaction that commits while the sweep runs keeps its notification", Effect.gen(function* () {
      const history = yield* HistoryStore
      const sql = yield* SqlClient.SqlClient
      yield* write(Effect.zipRight(notification("n1", 1, 2), delivery("d1", "n1", "cancelled", 10)))
      const updated = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // An operator's requeue: open, not committed yet.
      const requeue = yield* Effect.fork(write(Effect.gen(function* () {
        yield* sql`UPDATE deliveries SET status = 'pending', next_attempt_at = 50, updated_at = 50 WHERE id = 'd1'`
        yield* Deferred.succeed(updated, undefined)
        yield* Deferred.await(release)
      })))
      yield* Deferred.await(updated)
      const sweep = yield* Effect.fork(write(history.sweep("", before, 10)))
      yield* Effect.gen(function* () {
        if (engine.concurrentWriters) {
          // The sweep has read d1 as cancelled and now waits for the requeue's row lock.
          yield* eventually(sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
                                               WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            (r) => r[0]!.n === 1, "the sweep waits for the requeue's lock")
        } else {
          yield* stays(Effect.sync(() => sweep.unsafePoll()), (r) => r === null, "the sweep ran beside an open write")
        }
      }).pipe(Effect.ensuring(Deferred.succeed(release, undefined)))
      yield* Fiber.join(requeue)
      expect(yield* Fiber.join(sweep)).toEqual({ deleted: 0, cursor: "n1", done: true })
      expect(yield* ids("notifications")).toEqual(["n1"])
      expect(yield* ids("deliveries")).toEqual(["d1"])
    }))
  })
