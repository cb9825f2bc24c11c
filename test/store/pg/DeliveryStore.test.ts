/**
 * The DeliveryStore contract on PostgreSQL (a fresh, migrated database per test), and what
 * only PostgreSQL has: several processes claiming at once, each in its own transaction on its
 * own connection, take disjoint deliveries (FOR UPDATE SKIP LOCKED), and a fenced write that
 * waited for another transaction's write to its row is checked against the row as committed.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { DeliveryStore } from "../../../src/store/DeliveryStore.js"
import { pgDeliveryStore } from "../../../src/store/pg/DeliveryStore.js"
import { migratePg } from "../../../src/store/pg/migrate.js"
import { pgWriter } from "../../../src/store/pg/Writer.js"
import { ReadSql } from "../../../src/store/ReadSql.js"
import { Writer } from "../../../src/store/Writer.js"
import { freshDatabaseLayer } from "../../support/postgres.js"
import { deliveryStoreContract } from "../contract/DeliveryStore.js"
import { insertNotifications, lease, newDelivery } from "../contract/deliveryFixtures.js"

const database = Layer.effectDiscard(migratePg()).pipe(Layer.provideMerge(freshDatabaseLayer(4)))
const storage = Layer.effect(ReadSql, SqlClient.SqlClient).pipe(Layer.provideMerge(database))
const layer = Layer.mergeAll(pgWriter, pgDeliveryStore).pipe(Layer.provideMerge(storage))

deliveryStoreContract("PostgreSQL", layer)

describe("DeliveryStore on PostgreSQL, concurrent claims", () => {
  it.effect("two claims in concurrent transactions on two connections take disjoint deliveries", () =>
    Effect.gen(function* () {
      const store = yield* DeliveryStore
      const writer = yield* Writer
      const sql = yield* SqlClient.SqlClient
      const n = 5
      const ids = Array.from({ length: 2 * n }, (_, i) => `d${String(i).padStart(2, "0")}`)
      yield* writer.transaction(Effect.gen(function* () {
        yield* insertNotifications(ids.map((id) => ({ id: `n-${id}` })))
        yield* store.insertMany(ids.map((id, i) => newDelivery(id, `n-${id}`, "mem", { nextAttemptAt: i })))
      }))
      const firstClaimed = yield* Deferred.make<void>()
      const secondDone = yield* Deferred.make<void>()
      /** Claims `n` (leases them to `owner`) in one transaction; the first holds its locks until the second has claimed. */
      const claim = (owner: string, hold: boolean) =>
        writer.transaction(Effect.gen(function* () {
          // A claim that waited for the other's locks would fail here instead of hanging the test.
          yield* sql`SET LOCAL lock_timeout = '2s'`
          const backend = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`
          const rows = yield* store.due("mem", 1_000, n)
          yield* store.persist(rows.map((r) => lease(r, owner)))
          if (hold) {
            yield* Deferred.succeed(firstClaimed, undefined)
            yield* Deferred.await(secondDone)
          }
          return { pid: backend[0]!.pid, ids: rows.map((r) => r.id) }
        }))
      const first = yield* Effect.fork(claim("w1", true))
      yield* Deferred.await(firstClaimed)
      // Released however the second ends, so a failing claim fails the test instead of hanging it.
      const second = yield* Effect.ensuring(claim("w2", false), Deferred.succeed(secondDone, undefined))
      const firstResult = yield* Fiber.join(first)
      expect(firstResult.pid).not.toBe(second.pid)
      // The first takes the oldest due; the second passes over its locked rows to the next ones.
      expect(firstResult.ids).toEqual(ids.slice(0, n))
      expect(second.ids).toEqual(ids.slice(n))
      const owners = new Map((yield* store.byIds(ids)).map((r) => [r.id, [r.status, r.leaseOwner, r.version]]))
      for (const [i, id] of ids.entries()) expect(owners.get(id)).toEqual(["leased", i < n ? "w1" : "w2", 1])
    }).pipe(Effect.provide(layer)))

  it.effect("two rescues in concurrent transactions take disjoint expired leases, so no lease is rescued twice", () =>
    Effect.gen(function* () {
      const store = yield* DeliveryStore
      const writer = yield* Writer
      const sql = yield* SqlClient.SqlClient
      const ids = Array.from({ length: 6 }, (_, i) => `d${i}`)
      yield* writer.transaction(Effect.gen(function* () {
        yield* insertNotifications(ids.map((id) => ({ id: `n-${id}` })))
        yield* store.insertMany(ids.map((id) => newDelivery(id, `n-${id}`, "mem")))
        const rows = yield* store.byIds(ids)
        // Leases of a dead process, run out at 100..105.
        yield* store.persist(rows.map((r) => lease(r, "dead", 100 + Number(r.id.slice(1)))))
      }))
      const firstRead = yield* Deferred.make<void>()
      const secondDone = yield* Deferred.make<void>()
      /** A rescue pass's read of `limit` expired leases, in one transaction; the first holds its locks until the second has read. */
      const rescue = (limit: number, hold: boolean) =>
        writer.transaction(Effect.gen(function* () {
          yield* sql`SET LOCAL lock_timeout = '2s'`
          const rows = yield* store.expired(1_000, limit)
          if (hold) {
            yield* Deferred.succeed(firstRead, undefined)
            yield* Deferred.await(secondDone)
          }
          return rows.map((r) => r.id)
        }))
      const first = yield* Effect.fork(rescue(3, true))
      yield* Deferred.await(firstRead)
      const second = yield* Effect.ensuring(rescue(10, false), Deferred.succeed(secondDone, undefined))
      expect(yield* Fiber.join(first)).toEqual(["d0", "d1", "d2"])
      expect(second).toEqual(["d3", "d4", "d5"])
    }).pipe(Effect.provide(layer)))

  it.effect("a lease renewal passes over a row another transaction holds instead of waiting for it, and renews the rest", () =>
    Effect.gen(function* () {
      const store = yield* DeliveryStore
      const writer = yield* Writer
      const sql = yield* SqlClient.SqlClient
      yield* writer.transaction(Effect.gen(function* () {
        yield* insertNotifications([{ id: "n1" }, { id: "n2" }])
        yield* store.insertMany([newDelivery("d1", "n1", "mem"), newDelivery("d2", "n2", "mem")])
        yield* store.persist((yield* store.byIds(["d1", "d2"])).map((r) => lease(r, "w1", 1_000)))
      }))
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // The owner's outcome write holding d1 (as Completing does while it commits).
      const holder = yield* Effect.fork(writer.transaction(Effect.gen(function* () {
        yield* sql`SELECT id FROM deliveries WHERE id = 'd1' FOR UPDATE`
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(release)
      })))
      yield* Deferred.await(locked)
      // Waiting for d1 would fail this at the lock timeout instead of returning.
      yield* Effect.ensuring(
        writer.transaction(Effect.zipRight(sql`SET LOCAL lock_timeout = '1s'`, store.renewLeases(["d1", "d2"], "w1", 9_000))),
        Deferred.succeed(release, undefined)
      )
      yield* Fiber.join(holder)
      const rows = new Map((yield* store.byIds(["d1", "d2"])).map((r) => [r.id, r.leaseExpiresAt]))
      expect(rows).toEqual(new Map([["d1", 1_000], ["d2", 9_000]]))
    }).pipe(Effect.provide(layer)))

  it.effect("a claim waits for nothing while another transaction holds every due delivery", () =>
    Effect.gen(function* () {
      const store = yield* DeliveryStore
      const writer = yield* Writer
      yield* writer.transaction(Effect.gen(function* () {
        yield* insertNotifications([{ id: "n1" }, { id: "n2" }])
        yield* store.insertMany([newDelivery("d1", "n1", "mem"), newDelivery("d2", "n2", "mem")])
      }))
      const held = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(writer.transaction(Effect.gen(function* () {
        const rows = yield* store.due("mem", 0, 10)
        yield* Deferred.succeed(held, undefined)
        yield* Deferred.await(release)
        return rows.map((r) => r.id)
      })))
      yield* Deferred.await(held)
      const sql = yield* SqlClient.SqlClient
      const meanwhile = writer.transaction(Effect.zipRight(sql`SET LOCAL lock_timeout = '2s'`, store.due("mem", 0, 10)))
      expect(yield* Effect.ensuring(meanwhile, Deferred.succeed(release, undefined))).toEqual([])
      expect(yield* Fiber.join(holder)).toEqual(["d1", "d2"])
      // Its transaction over (nothing written), the rows are due again.
      expect((yield* writer.transaction(store.due("mem", 0, 10))).map((r) => r.id)).toEqual(["d1", "d2"])
    }).pipe(Effect.provide(layer)))

  it.effect("a transition waiting on another transaction's write to its row is fenced against the committed row", () =>
    Effect.gen(function* () {
      const store = yield* DeliveryStore
      const writer = yield* Writer
      const sql = yield* SqlClient.SqlClient
      yield* writer.transaction(Effect.gen(function* () {
        yield* insertNotifications([{ id: "n1" }])
        yield* store.insertMany([newDelivery("d1", "n1", "mem")])
      }))
      const [row] = yield* store.byIds(["d1"])
      const wrote = yield* Deferred.make<void>()
      const commit = yield* Deferred.make<void>()
      const first = yield* Effect.fork(writer.transaction(Effect.gen(function* () {
        const written = yield* store.persist([lease(row!, "w1")])
        yield* Deferred.succeed(wrote, undefined)
        yield* Deferred.await(commit)
        return written
      })))
      yield* Deferred.await(wrote)
      // The same transition, computed from the same version, by another process: it waits for the row lock.
      const second = yield* Effect.fork(writer.transaction(store.persist([lease(row!, "w2")])))
      const waiting = sql<{ n: number }>`SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`.pipe(Effect.map((r) => Number(r[0]!.n)))
      expect(yield* Effect.repeat(waiting, { until: (n) => n === 1, times: 20_000 })).toBe(1)
      yield* Deferred.succeed(commit, undefined)
      expect(yield* Fiber.join(first)).toEqual(new Set(["d1"]))
      expect(yield* Fiber.join(second)).toEqual(new Set())
      expect(yield* store.get("d1")).toMatchObject({ status: "leased", leaseOwner: "w1", version: 1 })
    }).pipe(Effect.provide(layer)))
})
