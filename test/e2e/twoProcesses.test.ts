/**
 * Two Herald processes on one SQLite file, as a normal deployment runs them (two daemons, or a
 * daemon and a program embedding the library), plus this test process enqueueing with no
 * dispatcher of its own: every notification is delivered once to a real HTTP receiver, soon
 * after it was enqueued, whichever process enqueued it. Real processes and real time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { provideHerald, tempDb } from "../support/herald.js"
import { receiver, whenIo } from "../support/receiver.js"
import { startWorker } from "./support/worker.js"

describe("two processes on one database file", () => {
  it.scopedLive("every notification enqueued by either, or by a third without a dispatcher, is delivered exactly once within a second", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const arrivals = new Map<string, Array<number>>()
      const hook = yield* receiver((r) => {
        const id = String(r.headers["webhook-id"])
        arrivals.set(id, [...(arrivals.get(id) ?? []), Date.now()])
        return { status: 204 }
      })
      yield* provideHerald(db, Effect.flatMap(Herald, (h) => h.putSettings({
        sinks: { hook: { type: "webhook", url: `${hook.url}/in`, allowPrivateNetwork: true } },
        routes: [{ sink: "hook", minPriority: "low" }]
      })), { background: false })
      const a = yield* startWorker(db)
      const b = yield* startWorker(db)
      // This process only enqueues: its notifications are the other processes' work.
      yield* provideHerald(db, Effect.gen(function* () {
        const herald = yield* Herald
        const enqueuedAt = new Map<string, number>()
        // Round 0 warms up: each worker loads its HTTP client on its first webhook call (over a
        // second on a busy machine). From then on both are idle between rounds, and each burst
        // must wake one of them within a second.
        const warmUp = new Set<string>()
        for (let round = 0; round < 5; round++) {
          const results = yield* herald.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ kind: "two.processes", title: `c${round}-${i}` })))
          const at = Date.now()
          for (const r of results) enqueuedAt.set(r.notification.id, at)
          const fromA = yield* a.enqueue(20, `a${round}`)
          const fromB = yield* b.enqueue(20, `b${round}`)
          for (const m of [fromA, fromB]) for (const id of m.enqueued) enqueuedAt.set(id, m.at)
          yield* whenIo(herald.stats(), (s) => (s.byStatus["sent"] ?? 0) === enqueuedAt.size, `round ${round} delivered`, 10_000)
          if (round === 0) for (const id of enqueuedAt.keys()) warmUp.add(id)
        }
        const page = yield* herald.listDeliveries({ limit: 1_000 })
        expect(page.items).toHaveLength(300)
        const late: Array<string> = []
        for (const d of page.items) {
          // Exactly once: one call at the receiver, one attempt, sent.
          expect(arrivals.get(d.id)).toHaveLength(1)
          expect(d).toMatchObject({ status: "sent", attempts: 1 })
          const waited = arrivals.get(d.id)![0]! - enqueuedAt.get(d.notificationId)!
          if (waited > 1_000 && !warmUp.has(d.notificationId)) late.push(`${d.id}: ${waited} ms`)
        }
        expect(late.slice(0, 50)).toEqual([])
        expect(arrivals.size).toBe(300)
      }), { background: false })
    }), 90_000)
})
