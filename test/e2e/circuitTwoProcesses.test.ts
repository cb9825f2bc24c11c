/**
 * One circuit shared by two Herald processes on one SQLite file: failures seen by either count
 * together, both hold the sink's deliveries while it is open, and only one probe goes out
 * across both after the cooldown. Real processes, real time (a 2.5 s cooldown).
 */
import { describe, expect, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import { Effect } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { provideHerald, tempDb } from "../support/herald.js"
import { holdsFor, scriptedReceiver, whenIo } from "../support/receiver.js"
import { startWorker } from "./support/worker.js"

describe("a circuit shared by two processes", () => {
  it.scopedLive("failures from both open it once, both hold while it is open, one probe in all closes it", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const hook = yield* scriptedReceiver
      yield* provideHerald(db, Effect.flatMap(Herald, (h) => h.putSettings({
        sinks: {
          hook: {
            type: "webhook", url: hook.url, allowPrivateNetwork: true,
            circuit: { failureThreshold: 4, cooldownMs: 2_500 },
            retry: { maxAttempts: 20, baseMs: 100, factor: 1, capMs: 100 }
          }
        },
        routes: [{ sink: "hook" }]
      })), { background: false })
      const a = yield* startWorker(db)
      const b = yield* startWorker(db)
      // Each process enqueues its own: each dispatches what it enqueued first (the direct hand-off).
      yield* a.enqueue(2, "a")
      yield* b.enqueue(2, "b")
      yield* provideHerald(db, Effect.gen(function* () {
        const herald = yield* Herald
        const open = yield* whenIo(herald.getSink("hook"), (s) => s.circuit === "open", "the circuit opened", 20_000)
        // A delivery the other process claimed just before the open still makes its call (its
        // claim saw the circuit closed): wait until every claimed one has its outcome.
        yield* whenIo(herald.stats(), (s) => (s.byStatus["leased"] ?? 0) === 0, "the calls claimed before the open ended", 10_000)
        const opened = hook.calls.length
        expect(opened).toBeGreaterThanOrEqual(4)
        expect(open.consecutiveFailures).toBeGreaterThanOrEqual(4)
        // Retries fall due every 100 ms; neither process sends one while the circuit is open.
        yield* holdsFor(() => hook.calls.length === opened, "a call while the circuit is open", 1_000)
        hook.mode.status = 204
        hook.mode.hold = true
        yield* whenIo(Effect.sync(() => hook.held.length), (n) => n === 1, "the probe went out", 10_000)
        // One probe across both processes: nothing else goes while it is out.
        yield* holdsFor(() => hook.calls.length === opened + 1, "a second call while the probe is out", 500)
        hook.mode.hold = false
        hook.held.splice(0)[0]!.writeHead(204).end()
        yield* whenIo(herald.stats(), (s) => s.byStatus["sent"] === 4, "every delivery went out", 20_000)
        expect(yield* herald.getSink("hook")).toMatchObject({ circuit: "closed" })
      }), { background: false })
      const conn = new Sqlite(db, { readonly: true })
      const events = conn.prepare("SELECT event FROM change_log WHERE entity = 'circuit' ORDER BY seq").all() as Array<{ event: string }>
      conn.close()
      expect(events.map((e) => e.event)).toEqual(["open", "half_open", "closed"])
    }), 90_000)
})
