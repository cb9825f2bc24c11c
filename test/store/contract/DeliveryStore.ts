/**
 * The DeliveryStore contract, run on every engine: what insertMany keeps, what `due` returns
 * and in which order, the fences of `persist` (a stale version, status or lease owner writes
 * nothing, nor its attempt row), lease renewal, the waiting and expiry scans, the counts, and
 * the readers' filters and keyset pagination. The layer gives a fresh, migrated database.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import type { NotificationId } from "../../../src/domain/Ids.js"
import { DeliveryStore } from "../../../src/store/DeliveryStore.js"
import type { ReadSql } from "../../../src/store/ReadSql.js"
import { Writer } from "../../../src/store/Writer.js"
import { afterLease, attemptRow, insertNotifications, lease, newDelivery, sent, transition } from "./deliveryFixtures.js"

export type DeliveryStoreLayer = Layer.Layer<DeliveryStore | Writer | ReadSql | SqlClient.SqlClient, unknown>

/** Writes `effect` in one writer transaction. */
const write = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flatMap(Writer, (w) => w.transaction(effect))

/** One notification `n1` and deliveries to it (and to `n2`), all in one transaction. */
const seed = (deliveries: ReadonlyArray<ReturnType<typeof newDelivery>>) =>
  write(Effect.gen(function* () {
    yield* insertNotifications([{ id: "n1", payload: `{"x": [1, 2], "s": "é"}` }, { id: "n2" }])
    yield* (yield* DeliveryStore).insertMany(deliveries)
  }))

const rowOf = (id: string) => Effect.flatMap(DeliveryStore, (s) => Effect.map(s.byIds([id]), (r) => r[0]!))

export const deliveryStoreContract = (engine: string, layer: DeliveryStoreLayer) =>
  describe(`DeliveryStore on ${engine}`, () => {
    const test = (name: string, body: Effect.Effect<void, unknown, DeliveryStore | Writer | ReadSql | SqlClient.SqlClient>) =>
      it.effect(name, () => Effect.provide(body, layer))

    test("insertMany leaves an existing (notification, sink) pair as it is and keeps a leased hand-off's lease", Effect.gen(function* () {
      const store = yield* DeliveryStore
      yield* seed([newDelivery("d1", "n1", "mem")])
      yield* write(store.insertMany([
        newDelivery("d9", "n1", "mem", { status: "skipped", reason: "again" }),
        newDelivery("d2", "n1", "hook", { status: "leased", nextAttemptAt: null, leaseOwner: "w1", leaseExpiresAt: 500, version: 1, createdAt: 7 })
      ]))
      const rows = yield* store.byNotification("n1")
      expect(rows.map((d) => [d.id, d.sink, d.status])).toEqual([["d2", "hook", "leased"], ["d1", "mem", "pending"]])
      expect(rows[0]).toMatchObject({ leaseOwner: "w1", leaseExpiresAt: 500, version: 1, createdAt: 7, updatedAt: 7, attempts: 0, rescues: 0 })
      expect(yield* store.get("d9")).toBeUndefined()
      expect(yield* store.get("d1")).toMatchObject({ id: "d1", notificationId: "n1", maxAttempts: 3, nextAttemptAt: 0, reason: null })
    }))

    test("due returns a sink's waiting deliveries due by now, oldest due first, up to the limit, with their notification", Effect.gen(function* () {
      const store = yield* DeliveryStore
      yield* seed([
        newDelivery("d1", "n1", "mem", { nextAttemptAt: 30 }),
        newDelivery("d2", "n2", "mem", { nextAttemptAt: 10 }),
        newDelivery("d3", "n1", "hook", { nextAttemptAt: 5 }),
        newDelivery("d4", "n2", "hook", { nextAttemptAt: 100 }),
        newDelivery("d5", "n1", "later", { nextAttemptAt: 101 })
      ])
      const rows = yield* write(store.due("mem", 30, 10))
      expect(rows.map((r) => r.id)).toEqual(["d2", "d1"])
      expect((yield* write(store.due("mem", 30, 1))).map((r) => r.id)).toEqual(["d2"])
      expect((yield* write(store.due("mem", 29, 10))).map((r) => r.id)).toEqual(["d2"])
      expect((yield* write(store.due("hook", 99, 10))).map((r) => r.id)).toEqual(["d3"])
      const d1 = rows[1]!
      expect(d1).toMatchObject({ notificationId: "n1", kind: "build", priority: "high", title: "title n1", body: "body", projectId: "p1", sessionId: null, notificationCreatedAt: 1, status: "pending", version: 0 })
      // The payload comes back as the text it was written as (the dispatcher parses it).
      expect(typeof d1.payload).toBe("string")
      expect(JSON.parse(d1.payload)).toEqual({ x: [1, 2], s: "é" })
      // Leased, sent and retry_wait: only retry_wait is due again.
      yield* write(store.persist([lease(d1, "w1"), transition(rows[0]!, { status: "retry_wait", attempts: 1, nextAttemptAt: 20 })]))
      expect((yield* write(store.due("mem", 30, 10))).map((r) => [r.id, r.status])).toEqual([["d2", "retry_wait"]])
      const [claimed] = yield* store.claimRowsByIds(["d1", "missing"])
      expect(claimed).toMatchObject({ id: "d1", status: "leased", leaseOwner: "w1", title: "title n1", version: 1 })
      expect(JSON.parse(claimed!.payload)).toEqual({ x: [1, 2], s: "é" })
      expect(yield* store.claimRowsByIds([])).toEqual([])
    }))

    test("persist writes only transitions that pass their fence (version, status, lease owner) and their attempt rows", Effect.gen(function* () {
      const store = yield* DeliveryStore
      const ids = ["d1", "d2", "d3", "d4", "d5"]
      yield* seed(ids.map((id, i) => newDelivery(id, i % 2 === 0 ? "n1" : "n2", `s${i}`)))
      const pending = yield* Effect.forEach(ids, rowOf)
      const owners = ["w1", "w1", "w2", "w2", "w1"]
      expect(yield* write(store.persist(pending.map((r, i) => lease(r, owners[i]!))))).toEqual(new Set(ids))
      const [l1, l2, l3, l4, l5] = yield* Effect.forEach(ids, rowOf)
      expect(l1).toMatchObject({ status: "leased", leaseOwner: "w1", version: 1, updatedAt: 2 })
      const failed = transition(l4!, {
        fenceOwner: "w2", status: "retry_wait", attempts: 1, nextAttemptAt: 900, leaseOwner: null, leaseExpiresAt: null,
        lastErrorCode: "http_503", lastError: "busy",
        attempt: attemptRow("d4", 1, { outcome: "failed", errorCode: "http_503", error: "busy", retryable: true, leaseOwner: "w2", nextAttemptAt: 900, waitReason: "retry_after", heldBy: "rate_limited" })
      })
      const written = yield* write(store.persist([
        sent(l1!, "w1"), // passes
        { ...sent(l2!, "w1"), fromVersion: 0 }, // stale version
        sent(l3!, "w1"), // leased by w2
        failed, // passes
        { ...sent(l5!, "w1"), fromStatus: "pending" } // stale status
      ]))
      expect(written).toEqual(new Set(["d1", "d4"]))
      expect(yield* store.get("d1")).toMatchObject({ status: "sent", attempts: 1, externalId: "ext-1", leaseOwner: null, version: 2, updatedAt: 50 })
      expect(yield* store.get("d2")).toMatchObject({ status: "leased", version: 1 })
      expect(yield* store.get("d3")).toMatchObject({ status: "leased", leaseOwner: "w2", version: 1 })
      expect(yield* store.get("d4")).toMatchObject({ status: "retry_wait", attempts: 1, nextAttemptAt: 900, lastErrorCode: "http_503", lastError: "busy", version: 2 })
      expect(yield* store.get("d5")).toMatchObject({ status: "leased", version: 1 })
      expect((yield* store.attemptsOf("d1")).map((a) => ({ ...a }))).toEqual([{ ...attemptRow("d1", 1, { leaseOwner: "w1" }) }])
      expect((yield* store.attemptsOf("d4")).map((a) => ({ ...a }))).toEqual([{ ...failed.attempt! }])
      for (const id of ["d2", "d3", "d5"]) expect(yield* store.attemptsOf(id)).toEqual([])
      // No fence owner: the lease owner is not checked (an operator command); retryable false is not null.
      const dead = yield* write(store.persist([transition(l2!, {
        status: "dead", attempts: 1, leaseOwner: null, leaseExpiresAt: null,
        attempt: attemptRow("d2", 1, { outcome: "failed", retryable: false })
      })]))
      expect(dead).toEqual(new Set(["d2"]))
      expect((yield* store.attemptsOf("d2")).map((a) => a.retryable)).toEqual([false])
      expect(yield* write(store.persist([]))).toEqual(new Set())
    }))

    test("persist: a delivery twice in one batch sees its own earlier write; a stale repeat writes nothing", Effect.gen(function* () {
      const store = yield* DeliveryStore
      yield* seed([newDelivery("d1", "n1", "mem"), newDelivery("d2", "n2", "mem")])
      const d1 = yield* rowOf("d1")
      const d2 = yield* rowOf("d2")
      const claim = lease(d1, "w1")
      const outcome = sent(afterLease(d1, "w1"), "w1")
      const written = yield* write(store.persist([claim, lease(d2, "w1"), outcome, claim, outcome]))
      expect(written).toEqual(new Set(["d1", "d2"]))
      expect(yield* store.get("d1")).toMatchObject({ status: "sent", version: 2 })
      expect(yield* store.get("d2")).toMatchObject({ status: "leased", version: 1 })
      expect((yield* store.attemptsOf("d1")).map((a) => a.outcome)).toEqual(["sent"])
    }))

    test("persist writes a large batch of distinct deliveries, fresh ones only", Effect.gen(function* () {
      const store = yield* DeliveryStore
      const ids = Array.from({ length: 120 }, (_, i) => `d${String(i).padStart(3, "0")}`)
      yield* seed(ids.map((id, i) => newDelivery(id, i % 2 === 0 ? "n1" : "n2", `s${i}`)))
      const rows = yield* store.byIds(ids)
      expect(rows.length).toBe(120)
      const stale = new Set(ids.filter((_, i) => i % 3 === 0))
      const written = yield* write(store.persist(rows.map((r) => (stale.has(r.id) ? { ...lease(r, "w1"), fromVersion: 5 } : lease(r, "w1")))))
      expect(written).toEqual(new Set(ids.filter((id) => !stale.has(id))))
      for (const r of yield* store.byIds(ids)) {
        expect([r.id, r.status, r.version]).toEqual(stale.has(r.id) ? [r.id, "pending", 0] : [r.id, "leased", 1])
      }
      expect(yield* store.byIds([])).toEqual([])
    }))

    test("renewLeases extends only the owner's leases, without a new version or a change_log row", Effect.gen(function* () {
      const store = yield* DeliveryStore
      const sql = yield* SqlClient.SqlClient
      yield* seed([newDelivery("d1", "n1", "mem"), newDelivery("d2", "n2", "mem"), newDelivery("d3", "n1", "hook")])
      const [d1, d2] = yield* Effect.forEach(["d1", "d2"], rowOf)
      yield* write(store.persist([lease(d1!, "w1", 100), lease(d2!, "w2", 100)]))
      const changes = sql<{ n: number }>`SELECT count(*) AS n FROM change_log`.pipe(Effect.map((r) => Number(r[0]!.n)))
      const before = yield* changes
      yield* write(store.renewLeases(["d1", "d2", "d3"], "w1", 700))
      expect(yield* store.get("d1")).toMatchObject({ leaseExpiresAt: 700, version: 1 })
      expect(yield* store.get("d2")).toMatchObject({ leaseExpiresAt: 100, leaseOwner: "w2" })
      expect(yield* store.get("d3")).toMatchObject({ status: "pending", leaseExpiresAt: null })
      expect(yield* changes).toBe(before)
    }))

    test("expired lists leases run out by now, soonest first; nextLeaseExpiry is the soonest", Effect.gen(function* () {
      const store = yield* DeliveryStore
      yield* seed(["d1", "d2", "d3", "d4"].map((id, i) => newDelivery(id, i % 2 === 0 ? "n1" : "n2", `s${i}`)))
      expect(yield* store.nextLeaseExpiry).toBeNull()
      const rows = yield* Effect.forEach(["d1", "d2", "d3"], rowOf)
      yield* write(store.persist([lease(rows[0]!, "w1", 300), lease(rows[1]!, "w1", 100), lease(rows[2]!, "w1", 200)]))
      expect((yield* write(store.expired(250, 10))).map((r) => r.id)).toEqual(["d2", "d3"])
      expect((yield* write(store.expired(1_000, 2))).map((r) => r.id)).toEqual(["d2", "d3"])
      expect(yield* write(store.expired(99, 10))).toEqual([])
      expect(yield* store.nextLeaseExpiry).toBe(100)
    }))

    test("the waiting scans: nextDueAt, nextDueAtOf, oldestDueAt, waitingSinks, waitingFor", Effect.gen(function* () {
      const store = yield* DeliveryStore
      expect(yield* store.nextDueAt(["mem"])).toBeNull()
      expect(yield* store.oldestDueAt(1_000)).toBeNull()
      expect(yield* store.waitingSinks).toEqual([])
      yield* seed([
        newDelivery("d1", "n1", "mem", { nextAttemptAt: 300 }),
        newDelivery("d2", "n2", "mem", { nextAttemptAt: 200 }),
        newDelivery("d3", "n1", "hook", { nextAttemptAt: 250 }),
        newDelivery("d4", "n2", "hook", { nextAttemptAt: 50 }),
        newDelivery("d5", "n1", "gone", { status: "skipped", nextAttemptAt: 1, reason: "no sink" })
      ])
      // d4 is leased: no longer waiting.
      yield* write(store.persist([lease(yield* rowOf("d4"), "w1")]))
      expect(yield* store.nextDueAt(["mem", "hook"])).toBe(200)
      expect(yield* store.nextDueAt(["hook"])).toBe(250)
      expect(yield* store.nextDueAt(["gone", "none"])).toBeNull()
      expect(yield* store.nextDueAt([])).toBeNull()
      expect(yield* write(store.nextDueAtOf("mem"))).toBe(200)
      expect(yield* write(store.nextDueAtOf("gone"))).toBeNull()
      expect(yield* store.oldestDueAt(199)).toBeNull()
      expect(yield* store.oldestDueAt(200)).toBe(200)
      expect([...(yield* store.waitingSinks)].sort()).toEqual(["hook", "mem"])
      expect((yield* write(store.waitingFor("mem", 10))).map((r) => r.id).sort()).toEqual(["d1", "d2"])
      expect((yield* write(store.waitingFor("mem", 1))).length).toBe(1)
      expect(yield* write(store.waitingFor("gone", 10))).toEqual([])
    }))

    test("counts gives each sink's deliveries by status, with no empty rows", Effect.gen(function* () {
      const store = yield* DeliveryStore
      expect(yield* store.counts).toEqual([])
      yield* seed([
        newDelivery("d1", "n1", "mem"),
        newDelivery("d2", "n2", "mem"),
        newDelivery("d3", "n1", "hook"),
        newDelivery("d4", "n1", "gone", { status: "skipped", reason: "no sink" })
      ])
      yield* write(store.persist([lease(yield* rowOf("d3"), "w1")]))
      const sorted = (rows: ReadonlyArray<{ sink: string; status: string; n: number }>) =>
        rows.map((r) => `${r.sink}/${r.status}=${Number(r.n)}`).sort()
      expect(sorted(yield* store.counts)).toEqual(["gone/skipped=1", "hook/leased=1", "mem/pending=2"])
    }))

    test("list pages by id with a cursor and filters by status, sink and notification; idsWhere filters on the writer", Effect.gen(function* () {
      const store = yield* DeliveryStore
      const ids = ["d1", "d2", "d3", "d4", "d5"]
      const sinks = ["mem", "hook", "mem", "hook", "log"]
      yield* seed(ids.map((id, i) => newDelivery(id, i < 2 ? "n1" : "n2", sinks[i]!)))
      const d2 = yield* rowOf("d2")
      yield* write(store.persist([lease(d2, "w1"), sent(afterLease(d2, "w1"), "w1")]))
      const page1 = yield* store.list({ limit: 2 })
      expect(page1.items.map((d) => d.id)).toEqual(["d1", "d2"])
      expect(page1.next).toBe("d2")
      const page2 = yield* store.list({ limit: 2, after: page1.next! })
      expect(page2.items.map((d) => d.id)).toEqual(["d3", "d4"])
      const page3 = yield* store.list({ limit: 2, after: page2.next! })
      expect(page3).toMatchObject({ next: null })
      expect(page3.items.map((d) => d.id)).toEqual(["d5"])
      expect((yield* store.list({ limit: 10, sink: "mem" })).items.map((d) => d.id)).toEqual(["d1", "d3"])
      expect((yield* store.list({ limit: 10, status: "sent" })).items.map((d) => d.id)).toEqual(["d2"])
      expect((yield* store.list({ limit: 10, status: "pending", sink: "hook" })).items.map((d) => d.id)).toEqual(["d4"])
      expect((yield* store.list({ limit: 10, notificationId: "n2" as NotificationId })).items.map((d) => d.id)).toEqual(["d3", "d4", "d5"])
      expect(yield* write(store.idsWhere({ status: "pending" }, 10))).toEqual(["d1", "d3", "d4", "d5"])
      expect(yield* write(store.idsWhere({ status: "pending" }, 2))).toEqual(["d1", "d3"])
      expect(yield* write(store.idsWhere({ status: "sent", sink: "hook" }, 10))).toEqual(["d2"])
      expect(yield* write(store.idsWhere({ sink: "mem" }, 10))).toEqual(["d1", "d3"])
      expect(yield* write(store.idsWhere({ status: "dead" }, 10))).toEqual([])
    }))
  })
