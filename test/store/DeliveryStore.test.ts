import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { Herald } from "../../src/layers/Herald.js"
import { IllegalTransition } from "../../src/domain/errors.js"
import { step } from "../../src/machines/delivery.js"
import { claimTransitions } from "../../src/runtime/Dispatcher.js"
import { contextOf, toTransition } from "../../src/runtime/internal/transitions.js"
import { DeliveryStore } from "../../src/store/DeliveryStore.js"
import { Writer } from "../../src/store/Writer.js"
import { sharedHerald, withHerald } from "../support/herald.js"

describe("DeliveryStore", () => {
  it.scoped("a transition computed from an old version is not written (compare-and-set)", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const store = yield* DeliveryStore
        const writer = yield* Writer
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const [row] = yield* store.due("mem", 0, 10)
        expect(row!.notificationId).toBe(notification.id)
        const [first] = claimTransitions([row!], "w1", 10_000, 0)
        const [second] = claimTransitions([row!], "w2", 10_000, 0)
        expect(yield* writer.transaction(store.persist([first!]))).toEqual(new Set([row!.id]))
        expect(yield* writer.transaction(store.persist([second!]))).toEqual(new Set())
        const { delivery, attempts } = yield* herald.getDelivery(row!.id)
        expect(delivery).toMatchObject({ status: "leased", leaseOwner: "w1", version: 1 })
        expect(attempts).toEqual([])
      }), { background: false })
    }))

  it.scoped("of two outcomes for one lease in one batch, only the one that passes its fence gets an attempt row", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const store = yield* DeliveryStore
        const writer = yield* Writer
        yield* herald.enqueue({ kind: "k", title: "t" })
        const [pending] = yield* store.due("mem", 0, 10)
        yield* writer.transaction(store.persist(claimTransitions([pending!], "w1", 10_000, 0)))
        const [leased] = yield* store.claimRowsByIds([pending!.id])
        const outcome = () => {
          const s = step(leased!.status, contextOf(leased!), { type: "SUCCEED", now: 5 })
          if (s instanceof IllegalTransition) throw new Error(s.message)
          return toTransition(leased!, s, 5, "w1", { startedAt: 1, finishedAt: 5 })
        }
        expect(yield* writer.transaction(store.persist([outcome(), outcome()]))).toEqual(new Set([leased!.id]))
        const { delivery, attempts } = yield* herald.getDelivery(leased!.id)
        expect(delivery).toMatchObject({ status: "sent", version: 2 })
        expect(attempts.map((a) => a.outcome)).toEqual(["sent"])
      }), { background: false })
    }))

  it.scoped("change_log gets one row per real change and none for an update that changes nothing", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const count = sql<{ n: number }>`SELECT count(*) AS n FROM change_log`.pipe(Effect.map((r) => r[0]!.n))
        const before = yield* count
        yield* sql`UPDATE deliveries SET status = status, attempts = attempts, lease_expires_at = lease_expires_at`
        yield* sql`UPDATE notifications SET routed_at = routed_at`
        yield* sql`UPDATE settings SET document = document`
        expect(yield* count).toBe(before)
        yield* sql`UPDATE deliveries SET attempts = attempts + 1 WHERE notification_id = ${notification.id}`
        expect(yield* count).toBe(before + 1)
        const last = yield* sql<{ event: string; payload: string }>`SELECT event, payload FROM change_log ORDER BY seq DESC LIMIT 1`
        expect(last[0]!.event).toBe("updated")
        const payload: unknown = last[0]!.payload
        expect(typeof payload === "string" ? JSON.parse(payload) : payload).toMatchObject({ attempts: 1, status: "pending" })
      }), { background: false })
    }))

  it.scoped("a status the schema does not know is refused by the CHECK constraint", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* herald.enqueue({ kind: "k", title: "t" })
        const r = yield* Effect.either(sql`UPDATE deliveries SET status = 'lost'`)
        expect(r._tag).toBe("Left")
      }), { background: false })
    }))

  // Runs of distinct deliveries are written with one multi-row UPDATE, repeats one by one; either
  // way the outcome must be that of writing each fenced transition in turn.
  it.scoped("a batch of fenced transitions writes exactly what writing them one by one would", () =>
    Effect.gen(function* () {
      const runtime = yield* sharedHerald
      const pick = fc.record({ i: fc.nat(99), owner: fc.constantFrom("w1", "w2"), stale: fc.boolean() })
      // Distinct deliveries by construction (at least one full multi-row statement every run), and
      // arbitrary picks with repeats (the one-by-one fallback).
      const distinct = fc.uniqueArray(pick, { selector: (p) => p.i, minLength: 32, maxLength: 90, size: "max" })
      const repeats = fc.array(pick, { minLength: 40, maxLength: 90, size: "max" })
      const check = (picks: ReadonlyArray<{ i: number; owner: string; stale: boolean }>) =>
        runtime.runPromise(Effect.gen(function* () {
          const herald = yield* Herald
          const store = yield* DeliveryStore
          const writer = yield* Writer
          const created = yield* herald.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ kind: "k", title: `t${i}` })))
          const ids: Array<string> = (yield* Effect.forEach(created, (c) => herald.getNotification(c.notification.id))).map((n) => n.deliveries[0]!.id)
          const rows = new Map((yield* store.claimRowsByIds(ids)).map((r) => [r.id, r]))
          const transitions = picks.map((p) => {
            const [t] = claimTransitions([rows.get(ids[p.i]!)!], p.owner, 10_000, 0)
            return p.stale ? { ...t!, fromVersion: t!.fromVersion + 7 } : t!
          })
          // The model: each transition in turn, fenced on the version and status it was computed from.
          const model = new Map(ids.map((id) => [id, { version: 0, status: "pending", owner: null as string | null }]))
          const expected = new Set<string>()
          for (const t of transitions) {
            const m = model.get(t.id)!
            if (m.version !== t.fromVersion || m.status !== t.fromStatus) continue
            model.set(t.id, { version: m.version + 1, status: t.status, owner: t.leaseOwner })
            expected.add(t.id)
          }
          expect(yield* writer.transaction(store.persist(transitions))).toEqual(expected)
          for (const r of yield* store.byIds(ids)) {
            const m = model.get(r.id)!
            expect({ version: r.version, status: r.status, owner: r.leaseOwner }).toEqual(m)
          }
        }).pipe(Effect.orDie))
      yield* Effect.promise(() => fc.assert(fc.asyncProperty(distinct, check), { numRuns: 20 }))
      yield* Effect.promise(() => fc.assert(fc.asyncProperty(repeats, check), { numRuns: 20 }))
    }), 60_000)
})
