import { describe, expect, it } from "@effect/vitest"
import { Effect, Random, Schedule, TestClock } from "effect"
import fc from "fast-check"
import type { Delivery } from "../../src/domain/Delivery.js"
import { SinkFailure } from "../../src/domain/Sink.js"
import type { Herald } from "../../src/layers/Herald.js"
import { backoffCeilingMs, backoffFloorMs, backoffMs } from "../../src/machines/delivery.js"
import { delayOfAttempt, jitterOf, retrySchedule, settingsDelayOf } from "../../src/runtime/RetrySchedules.js"
import { MemorySink } from "../../src/sinks/memory.js"
import { eventually, memorySettings, stays, withHerald } from "../support/herald.js"

const failure = new SinkFailure({ retryable: true, code: "http_503", message: "unavailable" })

/** The first `n` draws of the Random a delivery's Schedule runs with: the jitter of attempts 1..n. */
const drawsOf = (seed: string, n: number) => Effect.runSync(Effect.withRandom(Effect.replicateEffect(Random.next, n), Random.make(seed)))

const policyArb = fc.record({
  maxAttempts: fc.integer({ min: 2, max: 30 }),
  baseMs: fc.integer({ min: 1, max: 100_000 }),
  factor: fc.double({ min: 1, max: 10, noNaN: true }),
  extraCapMs: fc.integer({ min: 0, max: 10_000_000 })
}).map(({ extraCapMs, ...r }) => ({ ...r, capMs: r.baseMs + extraCapMs }))

describe("the retry Schedule the settings compile to", () => {
  it("gives attempt n today's full-jitter backoff for the delivery's n-th jitter, within [floor, ceiling], equal to its closed form, and ends after maxAttempts", () => {
    fc.assert(
      fc.property(policyArb, fc.string({ minLength: 1, maxLength: 30 }), (r, seed) => {
        const schedule = retrySchedule(r)
        const jitters = drawsOf(seed, r.maxAttempts)
        for (let n = 1; n < r.maxAttempts; n++) {
          const delay = Effect.runSync(delayOfAttempt(schedule, n, failure, seed))
          expect(jitterOf(seed, n)).toBe(jitters[n - 1])
          expect(delay).toBe(backoffMs(r, n, jitters[n - 1]!))
          expect(settingsDelayOf(r, n, seed)).toBe(delay)
          expect(delay).toBeGreaterThanOrEqual(backoffFloorMs(r))
          expect(delay).toBeLessThanOrEqual(Math.max(backoffFloorMs(r), backoffCeilingMs(r, n)))
        }
        expect(Effect.runSync(delayOfAttempt(schedule, r.maxAttempts, failure, seed))).toBeNull()
        expect(settingsDelayOf(r, r.maxAttempts, seed)).toBeNull()
      }),
      { numRuns: 300 }
    )
  })

  it("is the same plan for one delivery every time it is read, and another for another delivery", () => {
    const schedule = retrySchedule({ maxAttempts: 10, baseMs: 10_000, factor: 2, capMs: 3_600_000 })
    const planOf = (seed: string) => Effect.runSync(Effect.all([1, 2, 3, 4, 5].map((n) => delayOfAttempt(schedule, n, failure, seed))))
    expect(planOf("dlv_a")).toEqual(planOf("dlv_a"))
    expect(planOf("dlv_a")).not.toEqual(planOf("dlv_b"))
  })

  it("reads an embedder's Schedule the same way: its delays in turn, then null once it stops", () => {
    const schedule = Schedule.spaced("5 seconds").pipe(Schedule.compose(Schedule.recurs(2)))
    expect(Effect.runSync(Effect.all([1, 2, 3, 4].map((n) => delayOfAttempt(schedule, n, failure, "dlv_x"))))).toEqual([5_000, 5_000, null, null])
  })
})

const deliveryTo = (herald: Herald["Type"], notificationId: string, sink: string) =>
  herald.getNotification(notificationId).pipe(Effect.map((n) => n.deliveries.find((d) => d.sink === sink)!))

const failing = Effect.flatMap(MemorySink, (mem) => mem.setHandler(() => Effect.fail(failure)))

/** Waits for the given failed attempt, then moves the TestClock to when the next one is due. */
const failedAttempt = (herald: Herald["Type"], notificationId: string, sink: string, attempt: number) =>
  eventually(deliveryTo(herald, notificationId, sink), (d) => d.status === "retry_wait" && d.attempts === attempt, `${sink}: attempt ${attempt} failed`)

const waitOf = (d: Delivery) => d.nextAttemptAt! - d.updatedAt

describe("retry Schedules in a running Herald", () => {
  it.scoped("a sink's own retry fields override the global ones for its deliveries only, its jitter from the delivery's seed", () =>
    Effect.gen(function* () {
      const settings = {
        ...memorySettings,
        sinks: { mem: { type: "memory" }, slow: { type: "memory", retry: { maxAttempts: 2, baseMs: 20_000, capMs: 30_000 } } },
        routes: [{ sink: "mem" }, { sink: "slow" }]
      }
      yield* withHerald((herald) => Effect.gen(function* () {
        yield* failing
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const slow = yield* failedAttempt(herald, notification.id, "slow", 1)
        const mem = yield* failedAttempt(herald, notification.id, "mem", 1)
        expect(slow.maxAttempts).toBe(2)
        expect(mem.maxAttempts).toBe(3)
        const own = { baseMs: 20_000, factor: 2, capMs: 30_000 }
        expect(waitOf(slow)).toBe(backoffMs(own, 1, drawsOf(slow.id, 1)[0]!))
        expect(waitOf(mem)).toBe(backoffMs(memorySettings.retry, 1, drawsOf(mem.id, 1)[0]!))
        // mem's retries fall due first: each is let happen before the clock jumps on, so no
        // fiber is mid-query (PostgreSQL's I/O is async) when the clock jumps past its next wake.
        let m = mem
        while (m.status !== "dead" && m.nextAttemptAt! < slow.nextAttemptAt!) {
          yield* TestClock.setTime(m.nextAttemptAt!)
          const before = m.attempts
          m = yield* eventually(deliveryTo(herald, notification.id, "mem"), (d) => d.attempts > before && d.status !== "leased", "mem: its next attempt")
        }
        // The second failure spends the sink's own budget of two.
        yield* TestClock.setTime(slow.nextAttemptAt!)
        const dead = yield* eventually(deliveryTo(herald, notification.id, "slow"), (d) => d.status === "dead", "slow: dead")
        expect(dead.reason).toBe("attempt budget spent (2 of 2)")
        // A requeue gives the sink's own budget again, not the global one.
        const requeued = yield* herald.requeue(dead.id)
        expect(requeued.maxAttempts).toBe(2)
      }), {}, settings)
    }))

  it.scoped("an embedder's Schedule for a sink decides its waits, and the delivery goes dead when the Schedule stops", () =>
    Effect.gen(function* () {
      const settings = { ...memorySettings, retry: { ...memorySettings.retry, maxAttempts: 10 } }
      const retrySchedules = { mem: Schedule.spaced("5 seconds").pipe(Schedule.compose(Schedule.recurs(2))) }
      yield* withHerald((herald) => Effect.gen(function* () {
        yield* failing
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        for (const attempt of [1, 2]) {
          const d = yield* failedAttempt(herald, notification.id, "mem", attempt)
          expect(waitOf(d)).toBe(5_000)
          yield* TestClock.setTime(d.nextAttemptAt! - 1)
          yield* stays(deliveryTo(herald, notification.id, "mem"), (x) => x.attempts === attempt, `attempt ${attempt + 1} started early`)
          yield* TestClock.setTime(d.nextAttemptAt!)
        }
        const dead = yield* eventually(deliveryTo(herald, notification.id, "mem"), (d) => d.status === "dead", "dead when the Schedule stopped")
        expect(dead.attempts).toBe(3)
        expect(dead.reason).toBe("retry schedule ended after 3 attempt(s)")
        const { attempts } = yield* herald.getDelivery(dead.id)
        expect(attempts.map((a) => a.waitReason)).toEqual(["backoff", "backoff", null])
      }), {}, settings, { retrySchedules })
    }))

  it.scoped("a server's Retry-After longer than the Schedule's delay still decides the wait", () =>
    Effect.gen(function* () {
      const retrySchedules = { mem: Schedule.spaced("5 seconds") }
      yield* withHerald((herald) => Effect.gen(function* () {
        const mem = yield* MemorySink
        yield* mem.setHandler(() => Effect.fail(new SinkFailure({ retryable: true, code: "http_429", message: "slow down", retryAfterMs: 120_000 })))
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const d = yield* failedAttempt(herald, notification.id, "mem", 1)
        expect(waitOf(d)).toBe(120_000)
        const { attempts } = yield* herald.getDelivery(d.id)
        expect(attempts[0]).toMatchObject({ waitReason: "retry_after", nextAttemptAt: d.nextAttemptAt })
      }), {}, memorySettings, { retrySchedules })
    }))

  it.scoped("a pull sink's own retry fields decide a nack's wait and its rescue limit", () =>
    Effect.gen(function* () {
      const own = { baseMs: 20_000, factor: 3, capMs: 30_000 }
      const settings = { ...memorySettings, sinks: { desk: { type: "desktop", retry: { ...own, maxRescues: 1 } } }, routes: [{ sink: "desk" }] }
      yield* withHerald((herald) => Effect.gen(function* () {
        const first = yield* herald.enqueue({ kind: "k", title: "nacked" })
        const [claimed] = yield* herald.claim({ sink: "desk", owner: "w1", limit: 1, leaseMs: 10_000 })
        const nacked = yield* herald.nack(claimed!.delivery.id, { owner: "w1", version: claimed!.delivery.version, code: "busy", message: "later", retryable: true })
        expect(nacked.notificationId).toBe(first.notification.id)
        expect(waitOf(nacked)).toBe(backoffMs(own, 1, drawsOf(nacked.id, 1)[0]!))
        // One expired lease is the sink's whole rescue budget: dead as a poison message, not retried.
        const second = yield* herald.enqueue({ kind: "k", title: "abandoned" })
        const [taken] = yield* herald.claim({ sink: "desk", owner: "w1", limit: 1, leaseMs: 10_000 })
        expect(taken!.delivery.notificationId).toBe(second.notification.id)
        yield* TestClock.setTime(taken!.delivery.leaseExpiresAt!)
        const dead = yield* eventually(deliveryTo(herald, second.notification.id, "desk"), (d) => d.status === "dead", "rescued to dead")
        expect(dead.reason).toContain("poison message")
      }), {}, settings)
    }))
})
