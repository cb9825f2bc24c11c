/**
 * Four Herald processes (twoProcesses.worker.mjs, from dist/) on one PostgreSQL database,
 * 20,000 notifications enqueued through all of them and delivered to a real HTTP receiver:
 * every one delivered and none twice; with one process SIGKILLed in the middle, nothing lost,
 * its leases rescued by the others within one lease TTL and every extra call backed by an
 * attempt row; and a rolling restart of every process under load after which every
 * notification is sent. Real processes, real time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { startWorker, type Worker } from "../e2e/support/worker.js"
import { provideHerald } from "../support/herald.js"
import { freshDatabase } from "../support/postgres.js"
import { whenIo } from "../support/receiver.js"
import { countingReceiver, deliveriesWithAttempts, loadSettings, statusCounts, withClient } from "./support/load.js"

const total = 20_000
const perWorker = total / 4
const chunk = 500
const leaseMs = 10_000
const owners = ["w1", "w2", "w3", "w4"]

/**
 * Every worker's config: its lease owner name, so the test can find its leases, and a share of
 * the machine. Four processes at the default 2,000 calls in flight each, on two cores shared
 * with the database and the receiver, starve each other's event loops: lease renewals took
 * 12-14 s, longer than the lease, and live leases were rescued (each extra call had its
 * attempt row, but none should happen in a test of "none twice").
 */
const workerConfig = (owner: string) => ({ config: { runtime: { owner, maxInFlight: 200, claimBatch: 100 } }, lifetimeMs: 280_000 })

/** `worker` enqueues its share, `chunk` notifications a call. */
const enqueueShare = (worker: Worker, owner: string) =>
  Effect.forEach(Array.from({ length: perWorker / chunk }, (_, i) => i), (i) => worker.enqueue(chunk, `${owner}-${i}`), { discard: true })

/** A fresh database with the load's settings, and a receiver. */
const setUp = Effect.gen(function* () {
  const { url } = yield* freshDatabase
  const hook = yield* countingReceiver
  yield* provideHerald(url, Effect.flatMap(Herald, (h) => h.putSettings(loadSettings(hook.url, leaseMs))), { background: false })
  return { url, hook }
})

/** Sent attempts per lease owner. */
const sentBy = (url: string) =>
  withClient(url, async (c) => {
    const { rows } = await c.query<{ owner: string; n: string }>(
      "SELECT lease_owner AS owner, count(*) AS n FROM delivery_attempts WHERE outcome = 'sent' GROUP BY lease_owner"
    )
    return Object.fromEntries(rows.map((r) => [r.owner, Number(r.n)]))
  })

/** Waits until every delivery is sent; then each one's attempt rows. */
const allSent = (url: string, withinMs: number) =>
  Effect.gen(function* () {
    yield* whenIo(statusCounts(url), (s) => s["sent"] === total, `all ${total} sent`, withinMs)
    return yield* deliveriesWithAttempts(url)
  })

describe("many Herald processes on one PostgreSQL database", () => {
  it.scopedLive("4 processes, 20,000 notifications enqueued through all of them: every one reaches the receiver once", () =>
    Effect.gen(function* () {
      const { url, hook } = yield* setUp
      const workers = yield* Effect.forEach(owners, (o) => startWorker(url, workerConfig(o)), { concurrency: "unbounded" })
      yield* Effect.forEach(workers, (w, i) => enqueueShare(w, owners[i]!), { concurrency: "unbounded", discard: true })
      const rows = yield* allSent(url, 120_000)
      expect(rows).toHaveLength(total)
      expect(hook.calls.size).toBe(total)
      const twice = rows.filter((r) => hook.calls.get(r.id) !== 1)
      expect(twice.slice(0, 10)).toEqual([])
      expect(rows.filter((r) => r.outcomes.join() !== "sent").slice(0, 10)).toEqual([])
      // The four shared the work: each sent some.
      const by = yield* sentBy(url)
      expect(Object.keys(by).sort()).toEqual(owners)
      for (const o of owners) expect(by[o]).toBeGreaterThan(0)
    }), 300_000)

  it.scopedLive("one of 4 SIGKILLed in the middle: nothing is lost, the others rescue its leases within one lease TTL, and every extra call has its attempt row", () =>
    Effect.gen(function* () {
      const { url, hook } = yield* setUp
      const workers = yield* Effect.forEach(owners, (o) => startWorker(url, workerConfig(o)), { concurrency: "unbounded" })
      const [victim, ...others] = workers
      // The victim's share is accepted (committed) before it dies; the others enqueue meanwhile.
      yield* enqueueShare(victim!, owners[0]!)
      const rest = yield* Effect.fork(Effect.forEach(others, (w, i) => enqueueShare(w, owners[i + 1]!), { concurrency: "unbounded", discard: true }))
      const victimLeases = withClient(url, (c) =>
        c.query<{ id: string }>("SELECT id FROM deliveries WHERE status = 'leased' AND lease_owner = $1", [owners[0]]).then((r) => r.rows.map((x) => x.id)))
      // In the middle: some delivered, and the victim holds leases (calls under way) when it dies.
      yield* whenIo(Effect.zip(Effect.sync(() => hook.calls.size), victimLeases), ([n, leased]) => n >= 2_000 && leased.length > 0, "the victim holds leases in the middle of the load", 120_000)
      victim!.child.kill("SIGKILL")
      const killedAt = Date.now()
      yield* Effect.async<void>((resume) => {
        if (victim!.child.signalCode !== null) return resume(Effect.void)
        victim!.child.once("exit", () => resume(Effect.void))
      })
      const orphaned = yield* victimLeases
      expect(orphaned.length).toBeGreaterThan(0)
      expect(hook.calls.size).toBeLessThan(total)
      yield* Fiber.join(rest)
      const rows = yield* allSent(url, 120_000)
      expect(rows).toHaveLength(total)
      expect(hook.calls.size).toBe(total)
      // Every call the receiver saw has its attempt row: an extra call is the rescued lease's.
      const unbacked = rows.filter((r) => (hook.calls.get(r.id) ?? 0) > r.outcomes.length)
      expect(unbacked.slice(0, 10)).toEqual([])
      expect(rows.filter((r) => r.outcomes.at(-1) !== "sent").slice(0, 10)).toEqual([])
      // Each orphaned lease was rescued by another process (a lease_expired attempt) within one lease TTL of the kill.
      const rescues = yield* withClient(url, (c) =>
        c.query<{ id: string; finished_at: string }>(
          "SELECT delivery_id AS id, finished_at FROM delivery_attempts WHERE outcome = 'lease_expired' AND delivery_id = ANY($1::TEXT[])", [orphaned]
        ).then((r) => r.rows))
      expect(rescues.map((r) => r.id).sort()).toEqual([...orphaned].sort())
      const latest = Math.max(...rescues.map((r) => Number(r.finished_at)))
      // A lease runs out at most leaseMs after its last renewal; the rescue follows its expiry (a small margin for a busy machine).
      expect(latest - killedAt).toBeLessThanOrEqual(leaseMs + 500)
    }), 300_000)

  it.scopedLive("a rolling restart of every process under load: every notification is sent once", () =>
    Effect.gen(function* () {
      const { url, hook } = yield* setUp
      /** A worker in a scope of its own, so the test can stop it while the others run. */
      const startIn = (owner: string) =>
        Effect.gen(function* () {
          const scope = yield* Scope.make()
          const worker = yield* Scope.extend(startWorker(url, workerConfig(owner)), scope)
          return { worker, stop: Scope.close(scope, Exit.void) }
        })
      const live = yield* Effect.forEach(owners, startIn, { concurrency: "unbounded" })
      yield* Effect.addFinalizer(() => Effect.forEach(live, (w) => w.stop, { discard: true }))
      const loading = yield* Effect.fork(Effect.forEach(live, (w, i) => enqueueShare(w.worker, owners[i]!), { concurrency: "unbounded", discard: true }))
      yield* Fiber.join(loading)
      const callsAtRestart: Array<number> = []
      for (const [i, owner] of owners.entries()) {
        // Each stop is graceful: calls under way finish and are recorded, unstarted claims are given back.
        yield* whenIo(Effect.sync(() => hook.calls.size), (n) => n >= (i + 1) * 1_000, `${(i + 1) * 1_000} delivered`, 120_000)
        callsAtRestart.push(hook.calls.size)
        yield* live[i]!.stop
        live[i] = yield* startIn(`${owner}-again`)
      }
      // The last process was restarted while the load was still being delivered.
      expect(callsAtRestart.at(-1)!).toBeLessThan(total)
      const rows = yield* allSent(url, 120_000)
      expect(rows).toHaveLength(total)
      expect(hook.calls.size).toBe(total)
      expect(rows.filter((r) => hook.calls.get(r.id) !== 1).slice(0, 10)).toEqual([])
      expect(rows.filter((r) => (hook.calls.get(r.id) ?? 0) > r.outcomes.length).slice(0, 10)).toEqual([])
    }), 300_000)
})
