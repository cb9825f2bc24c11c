/** A sink's `rateLimit`: a token bucket per process; held deliveries wait pending and spend no attempt. */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, TestClock } from "effect"
import * as fc from "fast-check"
import { MemorySink } from "../../src/sinks/memory.js"
import { available, nextTokenAt, refill, spend } from "../../src/runtime/internal/TokenBucket.js"
import { eventually, ioTurn, memorySettings, stays, withHerald } from "../support/herald.js"

/** Over every window between two calls, no more calls than the bucket allows. */
const withinRate = (times: ReadonlyArray<number>, perSecond: number, burst: number) => {
  const sorted = [...times].sort((a, b) => a - b)
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      if (j - i + 1 > burst + (perSecond * (sorted[j]! - sorted[i]!)) / 1_000 + 1e-9) return false
    }
  }
  return true
}

describe("sink rate limit", () => {
  it.scoped("a rate-limited sink never exceeds its rate over any window, held deliveries spend no attempt, and all go out", () =>
    withHerald((herald) => Effect.gen(function* () {
      const mem = yield* MemorySink
      const times: Array<number> = []
      yield* mem.setHandler(() => Effect.map(Clock.currentTimeMillis, (now) => (times.push(now), {})))
      const n = 12
      yield* herald.enqueueMany(Array.from({ length: n }, (_, i) => ({ kind: "k", title: `n${i}` })))
      // The burst goes out at once; the rest wait for tokens (5 a second).
      yield* eventually(Effect.sync(() => times.length), (c) => c === 2, "the burst sent")
      yield* stays(Effect.sync(() => times.length), (c) => c === 2, "a call beyond the burst before a token came")
      const pending = yield* herald.listDeliveries({ status: "pending" })
      expect(pending.items).toHaveLength(n - 2)
      expect(pending.items.every((d) => d.attempts === 0 && d.leaseOwner === null)).toBe(true)
      for (let t = 0; t < 40 && times.length < n; t++) {
        yield* TestClock.adjust("100 millis")
        for (let k = 0; k < 20; k++) yield* ioTurn
      }
      const stats = yield* eventually(herald.stats(), (s) => s.byStatus["sent"] === n, "all sent")
      expect(stats.byStatus).toEqual({ sent: n })
      expect(times).toHaveLength(n)
      expect(withinRate(times, 5, 2)).toBe(true)
      // Paced, not starved: the last call came about (n - burst) / rate seconds in.
      expect(Math.max(...times)).toBeGreaterThanOrEqual(((n - 2) / 5) * 1_000)
      expect(Math.max(...times)).toBeLessThanOrEqual(((n - 2) / 5) * 1_000 + 500)
      const { items } = yield* herald.listDeliveries({ limit: 100 })
      expect(items.every((d) => d.attempts === 1)).toBe(true)
      // The burst went out when due; every other attempt says the rate limit held it back.
      const heldBy = yield* Effect.forEach(items, (d) => Effect.map(herald.getDelivery(d.id), (r) => r.attempts[0]!.heldBy))
      expect(heldBy.filter((h) => h === null)).toHaveLength(2)
      expect(heldBy.filter((h) => h === "rate_limited")).toHaveLength(n - 2)
    }), {}, { ...memorySettings, sinks: { mem: { type: "memory", rateLimit: { perSecond: 5, burst: 2 } } } }))

  it.scoped("a rate limit that is not positive is refused at its path", () =>
    withHerald((herald) => Effect.gen(function* () {
      for (const rateLimit of [{ perSecond: 0 }, { perSecond: -1 }, { perSecond: 1, burst: 0 }, { perSecond: "5" }, { burst: 3 }]) {
        const refused = yield* Effect.flip(herald.putSettings({ sinks: { mem: { type: "memory", rateLimit } } }))
        expect(refused).toMatchObject({ _tag: "InvalidInput", issues: [{ path: expect.stringMatching(/^sinks\.mem\.rateLimit/) }] })
      }
    }), { background: false }))

  it("the token bucket never lets more through than burst + rate x window, for any pattern of takes", () => {
    fc.assert(fc.property(
      fc.double({ min: 0.1, max: 1_000, noNaN: true }),
      fc.integer({ min: 1, max: 50 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 60 })), { maxLength: 60 }),
      (perSecond, burst, steps) => {
        const rate = { perSecond, burst }
        let bucket = refill(undefined, rate, 0)
        let now = 0
        const times: Array<number> = []
        for (const [dt, want] of steps) {
          now += dt
          bucket = refill(bucket, rate, now)
          const n = Math.min(want, available(bucket))
          bucket = spend(bucket, n)
          for (let i = 0; i < n; i++) times.push(now)
          expect(nextTokenAt(bucket, rate)).toBeGreaterThanOrEqual(now)
        }
        expect(withinRate(times, perSecond, burst)).toBe(true)
      }
    ), { numRuns: 300 })
  })
})
