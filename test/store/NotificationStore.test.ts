import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { Herald } from "../../src/layers/Herald.js"
import { ChangeLogStore } from "../../src/store/ChangeLogStore.js"
import { sharedHerald } from "../support/herald.js"

describe("NotificationStore", () => {
  // Batches are written with multi-row statements for runs of rows without a dedupe key and one
  // statement per row otherwise; whatever the mix, the answer and the rows must be as if one by one.
  it.scoped("a batch with any mix of dedupe keys creates each key once, answers repeats with the original, keeps order", () =>
    Effect.gen(function* () {
      const runtime = yield* sharedHerald
      let round = 0
      // Mostly without a key, so runs long enough for a multi-row statement (32) are common.
      const item = fc.oneof({ arbitrary: fc.constant(null), weight: 24 }, { arbitrary: fc.integer({ min: 0, max: 5 }), weight: 1 })
      const longRun = (keys: ReadonlyArray<number | null>) => {
        let run = 0
        for (const k of keys) if ((run = k === null ? run + 1 : 0) >= 32) return true
        return false
      }
      let chunked = 0
      yield* Effect.promise(() => fc.assert(
        fc.asyncProperty(fc.array(item, { maxLength: 150, size: "max" }), fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), (keys, existing) =>
          runtime.runPromise(Effect.gen(function* () {
            const herald = yield* Herald
            const changes = yield* ChangeLogStore
            const key = (k: number) => `r${round}-k${k}`
            round++
            if (longRun(keys)) chunked++
            const before = new Map<string, string>()
            for (const k of existing) before.set(key(k), (yield* herald.enqueue({ kind: "k", title: "old", dedupeKey: key(k) })).notification.id)
            const from = (yield* changes.bounds).newest ?? 0
            const results = yield* herald.enqueueMany(keys.map((k, i) => ({ kind: "k", title: `t${i}`, ...(k === null ? {} : { dedupeKey: key(k) }) })))
            const first = new Map(before)
            results.forEach((r, i) => {
              const k = keys[i]!
              if (k === null) return expect(r.created).toBe(true)
              const original = first.get(key(k))
              if (original === undefined) {
                expect(r.created).toBe(true)
                first.set(key(k), r.notification.id)
              } else {
                expect(r.created).toBe(false)
                expect(r.notification.id).toBe(original)
              }
              expect(r.notification.dedupeKey).toBe(key(k))
            })
            const created = results.filter((r) => r.created).map((r) => r.notification.id)
            const feed = (yield* changes.after(from, 10_000)).filter((c) => c.event === "created")
            // Written in input order, one created change per notification and one per delivery.
            expect(feed.filter((c) => c.entity === "notification").map((c) => c.entityId)).toEqual(created)
            expect(feed.filter((c) => c.entity === "delivery")).toHaveLength(created.length)
            for (const id of created) {
              const n = yield* herald.getNotification(id)
              expect(n.notification.title).toBe(`t${results.findIndex((r) => r.notification.id === id)}`)
              expect(n.deliveries.map((d) => d.sink)).toEqual(["mem"])
            }
          }).pipe(Effect.orDie))
        ),
        { numRuns: 60 }
      ))
      expect(chunked).toBeGreaterThan(10)
    }), 60_000)
})
