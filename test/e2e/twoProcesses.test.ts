/**
 * Two Herald processes on one SQLite file, as a normal deployment runs them (two daemons, or a
 * daemon and a program embedding the library), plus this test process enqueueing with no
 * dispatcher of its own: every notification is delivered once to a real HTTP receiver, soon
 * after it was enqueued, whichever process enqueued it. Real processes and real time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as readline from "node:readline"
import { Herald } from "../../src/layers/Herald.js"
import { provideHerald, tempDb } from "../support/herald.js"
import { receiver, whenIo } from "../support/receiver.js"

const worker = new URL("./twoProcesses.worker.mjs", import.meta.url).pathname

interface Worker {
  readonly child: ChildProcess
  readonly enqueue: (n: number, prefix: string) => Effect.Effect<{ enqueued: Array<string>; at: number }>
}

/** Starts a worker process and waits until its runtime is up. */
const startWorker = (db: string) =>
  Effect.acquireRelease(
    Effect.async<Worker>((resume) => {
      const child = spawn(process.execPath, [worker, db], { stdio: ["pipe", "pipe", "inherit"] })
      const waiting: Array<(m: { enqueued: Array<string>; at: number }) => void> = []
      readline.createInterface({ input: child.stdout! }).on("line", (line) => {
        const message = JSON.parse(line) as { ready?: boolean; enqueued?: Array<string>; at?: number }
        if (message.ready) return resume(Effect.succeed({ child, enqueue }))
        waiting.shift()?.(message as { enqueued: Array<string>; at: number })
      })
      const enqueue = (n: number, prefix: string) =>
        Effect.async<{ enqueued: Array<string>; at: number }>((done) => {
          waiting.push((m) => done(Effect.succeed(m)))
          child.stdin!.write(`enqueue ${n} ${prefix}\n`)
        })
      setTimeout(() => child.kill("SIGKILL"), 60_000).unref()
    }),
    ({ child }) => Effect.async<void>((resume) => {
      if (child.exitCode !== null) return resume(Effect.void)
      child.on("exit", () => resume(Effect.void))
      child.stdin!.write("stop\n")
    })
  )

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
