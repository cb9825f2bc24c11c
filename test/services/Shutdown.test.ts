import { describe, expect, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import { Effect, Layer } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { MemorySink } from "../../src/sinks/memory.js"
import { eventually, memorySettings, tempDb } from "../support/herald.js"

describe("shutdown", () => {
  // Live clock: the grace period is real time. About 5 s.
  it.scopedLive("a sink call that hangs is cut off after the grace period, and every claimed delivery gets an outcome", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const started = performance.now()
      yield* Effect.scoped(Effect.provide(Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings({ ...memorySettings, leaseMs: 600_000 })
        const mem = yield* MemorySink
        let calls = 0
        yield* mem.setHandler(() => Effect.suspend(() => (calls++, Effect.never)))
        // 100 claimed, 64 calls under way (the pool's width), 36 not started when the layer closes.
        yield* herald.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ kind: "k", title: `t${i}` })))
        yield* eventually(Effect.sync(() => calls), (n) => n >= 64, "calls started")
      }), Layer.fresh(Herald.layer({ database: db, runtime: { feedPollMs: 50 } }))))
      const seconds = (performance.now() - started) / 1000
      expect(seconds).toBeLessThan(30) // bounded by the 5 s grace, not by the calls (which never end)
      const conn = new Sqlite(db, { readonly: true })
      const byStatus = conn.prepare("SELECT status, count(*) AS n FROM deliveries GROUP BY status").all()
      const attempts = conn.prepare("SELECT error_code AS code, count(*) AS n FROM delivery_attempts GROUP BY error_code").all()
      conn.close()
      // Nothing left leased to a process that is gone: all wait for a retry, each with its recorded attempt.
      expect(byStatus).toEqual([{ status: "retry_wait", n: 100 }])
      expect(attempts).toEqual([{ code: "interrupted", n: 100 }])
    }), 60_000)
})
