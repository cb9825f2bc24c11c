import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { SinkFailure } from "../../src/domain/Sink.js"
import { Herald } from "../../src/layers/Herald.js"
import { MemorySink } from "../../src/sinks/memory.js"
import { eventually, memorySettings, provideHerald, tempDb } from "../support/herald.js"

describe("restart in the middle of a load", () => {
  it.scoped("every notification reaches a final state and no delivery reaches its sink twice without a recorded attempt", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const receipts = new Map<string, number>()
      // The first life's sink accepts 100 deliveries, then refuses (retryable) until the stop:
      // the stop surely comes in the middle of the load, whatever the machine's speed.
      let accept = 100
      const record = Effect.flatMap(MemorySink, (mem) =>
        mem.setHandler((d) => {
          if (accept-- <= 0) return Effect.fail(new SinkFailure({ retryable: true, code: "stopping", message: "shutting down" }))
          return Effect.sync(() => {
            receipts.set(d.deliveryId, (receipts.get(d.deliveryId) ?? 0) + 1)
            return {}
          })
        }))
      const n = 3_000
      // First life: enqueue a load and stop (close the layer) while it is being delivered.
      const ids = yield* provideHerald(db, Effect.gen(function* () {
        yield* record
        const herald = yield* Herald
        yield* herald.putSettings(memorySettings)
        const results = yield* herald.enqueueMany(Array.from({ length: n }, (_, i) => ({ kind: "load", title: `n${i}` })))
        yield* eventually(Effect.sync(() => accept), (a) => a < 0, "the first 100 delivered")
        return results.map((r) => r.notification.id)
      }), { claimBatch: 20, maxInFlight: 20 })
      expect(receipts.size).toBe(100)
      // Second life on the same file: everything resumes and finishes.
      yield* provideHerald(db, Effect.gen(function* () {
        accept = Infinity
        yield* record
        const herald = yield* Herald
        yield* TestClock.adjust("1 second") // each refusal waits exactly 1 s: the backoff floor, min(baseMs, 1 s)
        const stats = yield* eventually(herald.stats(), (s) => (s.byStatus["sent"] ?? 0) === n, "all sent after restart")
        expect(stats.byStatus).toEqual({ sent: n })
        for (const id of ids.slice(0, 200)) {
          const { deliveries } = yield* herald.getNotification(id)
          expect(deliveries.map((d) => d.status)).toEqual(["sent"])
          const { attempts } = yield* herald.getDelivery(deliveries[0]!.id)
          expect(receipts.get(deliveries[0]!.id) ?? 0).toBeLessThanOrEqual(attempts.length)
          expect(attempts.at(-1)!.outcome).toBe("sent")
        }
      }))
      expect(receipts.size).toBe(n)
      const twice = [...receipts.values()].filter((c) => c > 1).length
      expect(twice).toBe(0) // a graceful stop drains the calls under way, so nothing is sent twice
    }))
})
