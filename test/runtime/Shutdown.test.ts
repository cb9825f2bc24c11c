import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { MemorySink } from "../../src/sinks/memory.js"
import { eventually, memorySettings, queryDatabase, tempDatabase } from "../support/herald.js"

describe("shutdown", () => {
  // Live clock: the grace period is real time. About 5 s.
  it.scopedLive("a call that hangs is cut off after the grace period and counts; a claimed delivery whose call never started gives its lease back without an attempt", () =>
    Effect.gen(function* () {
      const db = yield* tempDatabase
      const called = new Map<string, number>()
      const started = performance.now()
      yield* Effect.scoped(Effect.provide(Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings({ ...memorySettings, leaseMs: 600_000 })
        const mem = yield* MemorySink
        let calls = 0
        yield* mem.setHandler((d) => Effect.suspend(() => (calls++, called.set(d.deliveryId, (called.get(d.deliveryId) ?? 0) + 1), Effect.never)))
        // 100 claimed, 64 calls under way (the pool's width), 36 not started when the layer closes.
        yield* herald.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ kind: "k", title: `t${i}` })))
        yield* eventually(Effect.sync(() => calls), (n) => n >= 64, "calls started")
      }), Layer.fresh(Herald.layer({ database: db, runtime: { feedPollMs: 50 } }))))
      const seconds = (performance.now() - started) / 1000
      expect(seconds).toBeLessThan(30) // bounded by the 5 s grace, not by the calls (which never end)
      const byStatus = yield* queryDatabase(db, "SELECT status, count(*) AS n FROM deliveries GROUP BY status ORDER BY status")
      const attempts = yield* queryDatabase(db, "SELECT error_code AS code, count(*) AS n FROM delivery_attempts GROUP BY error_code ORDER BY error_code")
      const perDelivery = yield* queryDatabase<{ id: string; attempts: number; rows: number }>(db,
        "SELECT d.id, d.attempts, (SELECT count(*) FROM delivery_attempts a WHERE a.delivery_id = d.id) AS rows FROM deliveries d")
      const [released] = yield* queryDatabase<{ n: number }>(db, "SELECT count(*) AS n FROM change_log WHERE entity = 'delivery' AND event = 'released'")
      // Nothing left leased to a process that is gone. The 64 calls that started count as an
      // interrupted attempt and wait for a retry; the 36 that never started are pending again.
      expect(byStatus).toEqual([{ status: "pending", n: 36 }, { status: "retry_wait", n: 64 }])
      expect(attempts).toEqual([{ code: "interrupted", n: 64 }])
      expect(released!.n).toBe(36)
      // Exactly as many attempts as calls the sink saw, delivery by delivery.
      for (const d of perDelivery) {
        expect(d.rows).toBe(called.get(d.id) ?? 0)
        expect(d.attempts).toBe(d.rows)
      }
      // Restarted, every delivery is sent, and still each has one attempt row per call the sink saw.
      yield* Effect.scoped(Effect.provide(Effect.gen(function* () {
        const herald = yield* Herald
        const mem = yield* MemorySink
        yield* mem.setHandler((d) => Effect.sync(() => (called.set(d.deliveryId, (called.get(d.deliveryId) ?? 0) + 1), {})))
        yield* eventually(herald.stats(), (s) => s.byStatus["sent"] === 100, "all sent after the restart", 2_000_000)
      }), Layer.fresh(Herald.layer({ database: db, runtime: { feedPollMs: 50 } }))))
      const rows = yield* queryDatabase<{ id: string; n: number }>(db, "SELECT delivery_id AS id, count(*) AS n FROM delivery_attempts GROUP BY delivery_id")
      expect(rows).toHaveLength(100)
      for (const r of rows) expect(r.n).toBe(called.get(r.id))
    }), 60_000)
})
