/**
 * An outside write lock (the sqlite3 shell, a backup tool) held under load must not stall the
 * event loop: SQLite's busy wait blocks the thread, so the writer never waits inside SQLite and
 * retries asynchronously instead. Real time: the lock is held for three seconds.
 *
 * The bound is a behaviour check, not the performance aim: with SQLite's busy wait on the
 * thread, /healthz p99 was 426 ms here (and up to 1.4 s); without it, about 10-50 ms alone and
 * about 100 ms while other test files load both cores. 300 ms tells the two apart on a busy CI
 * machine. The aim (p99 under 100 ms) is measured by `npm run bench` (bench/outsideLock.ts).
 */
import { expect, layer } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { call, TestServer, testServer } from "./support.js"

const percentile = (xs: ReadonlyArray<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!

layer(testServer(), { excludeTestServices: true })("an outside write lock", (it) => {
  it.effect("while another process holds the write lock under load, /healthz never waits on SQLite's busy wait (p99 under 300 ms) and the waiting enqueues go through", () =>
    Effect.gen(function* () {
      const { url, database } = yield* TestServer
      const other = new Database(database)
      other.exec("BEGIN IMMEDIATE")
      const until = performance.now() + 3_000
      // Load: enqueues keep arriving (each waits for the lock), 20 at a time.
      const load = Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        Effect.gen(function* () {
          let sent = 0
          while (performance.now() < until) {
            yield* Effect.promise(() => fetch(`${url}/v1/notifications`, {
              method: "POST",
              headers: { authorization: "Bearer test-token-0123456789abcdef", "content-type": "application/json" },
              body: JSON.stringify({ kind: "k", title: `load ${i} ${sent++}` }),
              signal: AbortSignal.timeout(2_000)
            }).then((r) => r.text(), () => ""))
          }
        }), { concurrency: "unbounded", discard: true })
      const probe = Effect.gen(function* () {
        const latencies: Array<number> = []
        while (performance.now() < until) {
          const started = performance.now()
          yield* Effect.promise(() => fetch(`${url}/healthz`).then((r) => r.text()))
          latencies.push(performance.now() - started)
          yield* Effect.sleep("20 millis")
        }
        return latencies
      })
      const [latencies] = yield* Effect.all([probe, load], { concurrency: "unbounded" })
      other.exec("COMMIT")
      other.close()
      expect(latencies.length).toBeGreaterThan(50)
      expect(percentile(latencies, 0.99)).toBeLessThan(300)
      // Once the lock is released, what waited is written.
      const after = yield* call("POST", "/v1/notifications", { body: { kind: "k", title: "after" } })
      expect(after.status).toBe(201)
    }), 30_000)
})
