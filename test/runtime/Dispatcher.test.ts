import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { SinkFailure, type SinkReceipt } from "../../src/domain/Sink.js"
import { StaleWrite } from "../../src/domain/errors.js"
import { Herald } from "../../src/layers/Herald.js"
import { Dispatcher } from "../../src/runtime/Dispatcher.js"
import { backoffCeilingMs, backoffFloorMs } from "../../src/machines/delivery.js"
import { MemorySink } from "../../src/sinks/memory.js"
import { eventually, memorySettings, stays, testEngine, withHerald } from "../support/herald.js"

const policy = { baseMs: 1_000, factor: 2, capMs: 60_000, maxRescues: 3 }
const deliveryOf = (herald: Herald["Type"], notificationId: string) =>
  herald.getNotification(notificationId).pipe(Effect.map((n) => n.deliveries[0]!))

describe("Dispatcher", () => {
  it.scoped("delivers a notification to its sink with the delivery id as idempotency key", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const mem = yield* MemorySink
        const { notification } = yield* herald.enqueue({ kind: "ci.failed", title: "CI failed", payload: { pr: 7 } })
        const d = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "sent", "delivery sent")
        const [received] = yield* mem.received
        expect(received).toMatchObject({ deliveryId: d.id, idempotencyKey: d.id, attempt: 1, notification: { kind: "ci.failed", payload: { pr: 7 } } })
        const { attempts } = yield* herald.getDelivery(d.id)
        expect(attempts.map((a) => a.outcome)).toEqual(["sent"])
      }))
    }))

  it.scoped("retries wait a jittered exponential backoff under the TestClock, then go dead with the budget spent", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const mem = yield* MemorySink
        yield* mem.setHandler(() => Effect.fail(new SinkFailure({ retryable: true, code: "http_503", message: "unavailable" })))
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        for (let attempt = 1; attempt <= 2; attempt++) {
          const d = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "retry_wait" && d.attempts === attempt, `attempt ${attempt} failed`)
          const delay = d.nextAttemptAt! - d.updatedAt
          expect(delay).toBeGreaterThanOrEqual(backoffFloorMs(policy))
          expect(delay).toBeLessThanOrEqual(backoffCeilingMs(policy, attempt))
          // One millisecond early: nothing happens, though the dispatcher had every chance.
          yield* TestClock.setTime(d.nextAttemptAt! - 1)
          yield* stays(deliveryOf(herald, notification.id), (x) => x.attempts === attempt, `attempt ${attempt + 1} started early`)
          yield* TestClock.setTime(d.nextAttemptAt!)
          if (attempt === 1) {
            // The same check at the due time fails: it would have caught a retry a millisecond early.
            const caught = yield* Effect.exit(stays(deliveryOf(herald, notification.id), (x) => x.attempts === attempt, "retry"))
            expect(caught._tag).toBe("Failure")
          }
        }
        const dead = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "dead", "dead letter")
        expect(dead.attempts).toBe(3)
        expect(dead.reason).toContain("attempt budget spent (3 of 3)")
        const { attempts } = yield* herald.getDelivery(dead.id)
        expect(attempts.map((a) => [a.attempt, a.outcome, a.errorCode])).toEqual([
          [1, "failed", "http_503"], [2, "failed", "http_503"], [3, "failed", "http_503"]
        ])
        expect(attempts[2]!.nextAttemptAt).toBeNull()
      }))
    }))

  it.scoped("a server's Retry-After longer than the backoff decides the next attempt, and the attempt says why", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const mem = yield* MemorySink
        yield* mem.setHandler(() => Effect.fail(new SinkFailure({ retryable: true, code: "http_429", message: "slow down", retryAfterMs: 120_000 })))
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const d = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "retry_wait", "first failure")
        expect(d.nextAttemptAt! - d.updatedAt).toBe(120_000)
        const { attempts } = yield* herald.getDelivery(d.id)
        expect(attempts[0]).toMatchObject({ waitReason: "retry_after", nextAttemptAt: d.nextAttemptAt })
      }))
    }))

  it.scoped("a sink call that never answers is cut short at its deadline (half the lease) and retried with backoff", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const mem = yield* MemorySink
        let calls = 0
        yield* mem.setHandler(() => Effect.suspend(() => (calls++, calls === 1 ? Effect.never : Effect.succeed({}))))
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        yield* eventually(Effect.sync(() => calls), (n) => n === 1, "first call started")
        yield* TestClock.setTime(4_999)
        yield* stays(deliveryOf(herald, notification.id), (d) => d.status === "leased", "cut short before its deadline")
        yield* TestClock.setTime(5_000)
        const waiting = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "retry_wait", "timed out")
        expect(waiting).toMatchObject({ attempts: 1, lastErrorCode: "timeout" })
        const { attempts } = yield* herald.getDelivery(waiting.id)
        expect(attempts[0]).toMatchObject({ outcome: "failed", errorCode: "timeout", durationMs: 5_000 })
        yield* TestClock.setTime(waiting.nextAttemptAt!)
        const sent = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "sent", "sent on the retry")
        expect(sent.attempts).toBe(2)
      }))
    }))

  it.scoped("a call started after the lease was shortened is cut short at its new deadline, not at the watchdog's old plan", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        // Background fibers run: the watchdog plans its next wake under the 60 s lease (a third of it, 20 s on).
        for (let i = 0; i < 20; i++) yield* Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
        yield* herald.putSettings({ ...memorySettings, leaseMs: 10_000 })
        const mem = yield* MemorySink
        let calls = 0
        yield* mem.setHandler(() => Effect.suspend(() => (calls++, calls === 1 ? Effect.never : Effect.succeed({}))))
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        yield* eventually(Effect.sync(() => calls), (n) => n === 1, "first call started")
        yield* TestClock.setTime(5_000)
        const waiting = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "retry_wait", "timed out at 5 s")
        expect(waiting).toMatchObject({ attempts: 1, lastErrorCode: "timeout" })
      }), {}, { ...memorySettings, leaseMs: 60_000 })
    }))

  it.scoped("a sink that answers with something other than a receipt still counts as delivered, and stalls nothing", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const mem = yield* MemorySink
        const answers: Array<unknown> = [undefined, null, { externalId: { nested: true } }, { externalId: 42 }, { externalId: "x".repeat(5_000) }]
        let call = 0
        // Plain JavaScript embedders are not held to the type: the handler answers whatever comes next.
        yield* mem.setHandler(() => Effect.sync(() => answers[call++ % answers.length] as SinkReceipt))
        const created = yield* herald.enqueueMany(answers.map((_, i) => ({ kind: "k", title: `t${i}` })))
        const sent = yield* Effect.forEach(created, (c) =>
          eventually(deliveryOf(herald, c.notification.id), (d) => d.status === "sent", "sent"))
        expect(sent.map((d) => d.externalId?.length ?? null).sort()).toEqual([1_000, null, null, null, null])
      }))
    }))

  it.scoped("an outcome the database refuses does not hold back the others: they are written, and its lease expires and is rescued", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        // A real constraint failure on one row, standing in for a row a bug made unwritable.
        const poisoned = "NEW.status = 'sent' AND (SELECT title FROM notifications WHERE id = NEW.notification_id) = 'poison'"
        if (testEngine() === "pg") {
          yield* sql.unsafe(`CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF ${poisoned} THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$`)
          yield* sql.unsafe(`CREATE TRIGGER test_poison BEFORE UPDATE OF status ON deliveries FOR EACH ROW EXECUTE FUNCTION test_poison()`)
        } else {
          yield* sql.unsafe(`CREATE TRIGGER test_poison BEFORE UPDATE OF status ON deliveries
            WHEN ${poisoned} BEGIN SELECT RAISE(ABORT, 'poisoned row'); END`)
        }
        const titles = Array.from({ length: 40 }, (_, i) => (i === 17 ? "poison" : `ok ${i}`))
        const created = yield* herald.enqueueMany(titles.map((title) => ({ kind: "k", title })))
        for (const c of created.filter((c) => c.notification.title !== "poison")) {
          yield* eventually(deliveryOf(herald, c.notification.id), (d) => d.status === "sent", "the others sent")
        }
        const poison = created.find((c) => c.notification.title === "poison")!.notification.id
        const held = yield* deliveryOf(herald, poison)
        expect(held.status).toBe("leased")
        yield* TestClock.setTime(held.leaseExpiresAt! + 1)
        const rescued = yield* eventually(deliveryOf(herald, poison), (d) => d.status === "retry_wait", "rescued")
        expect(rescued).toMatchObject({ attempts: 1, lastErrorCode: "lease_expired" })
      }))
    }))

  it.scoped("a permanent failure goes dead at once and an operator requeue brings it back with a fresh budget", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const mem = yield* MemorySink
        yield* mem.setHandler(() => Effect.fail(new SinkFailure({ retryable: false, code: "http_400", message: "bad payload" })))
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const dead = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "dead", "dead")
        expect(dead.attempts).toBe(1)
        yield* mem.setHandler(() => Effect.succeed({ externalId: "msg-1" }))
        const requeued = yield* herald.requeue(dead.id)
        expect(requeued).toMatchObject({ status: "pending", attempts: 0 })
        const sent = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "sent", "sent after requeue")
        expect(sent.externalId).toBe("msg-1")
        const { attempts } = yield* herald.getDelivery(dead.id)
        expect(attempts.map((a) => a.outcome)).toEqual(["failed", "sent"]) // history is appended, never rewritten
        const again = yield* Effect.flip(herald.requeue(dead.id))
        expect(again._tag).toBe("IllegalTransition")
        expect(again.message).toContain("sent delivery is final")
      }))
    }))
})

describe("Dispatcher order", () => {
  const planned = (now: number) => ({
    id: "dlv_planned", notificationId: "ntf_planned", sink: "mem", status: "pending" as const,
    maxAttempts: 3, nextAttemptAt: now, reason: null, createdAt: now
  })
  const notificationOf = (now: number) => () => ({
    id: "ntf_planned", kind: "k", priority: "normal" as const, title: "t", body: "", payload: "{}",
    dedupeKey: null, projectId: null, sessionId: null, createdAt: now, routedAt: now
  })

  it.scoped("hand-offs not adopted yet share the room (two enqueue transactions open at once): maxInFlight and the sink's concurrency hold, and a release gives it back", () =>
    Effect.gen(function* () {
      const settings = { ...memorySettings, sinks: { mem: { type: "memory", concurrency: 3 } } }
      for (const { maxInFlight, room } of [{ maxInFlight: 100, room: 3 }, { maxInFlight: 2, room: 2 }]) {
        yield* withHerald((herald) => Effect.gen(function* () {
          const dispatcher = yield* Dispatcher
          const { notification } = yield* herald.enqueue({ kind: "k", title: "first" })
          yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "sent", "first sent")
          const stored = yield* herald.getSettings
          const now = yield* TestClock.currentTimeMillis
          const batch = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ ...planned(now), id: `dlv_${prefix}${i}`, notificationId: `ntf_${prefix}${i}` }))
          const handOff = (prefix: string, n: number) => dispatcher.leaseAtOnce(batch(prefix, n), notificationOf(now), stored, now)
          // A rolled-back transaction's room comes back (once: a second release returns nothing more).
          const a = handOff("a", 2)
          expect(a.claimed).toHaveLength(2)
          yield* a.release
          yield* a.release
          // Two transactions plan their hand-offs before either commits: together they get the room, no more.
          const b = handOff("b", 2)
          const c = handOff("c", 4)
          expect(b.claimed).toHaveLength(2)
          expect(c.claimed).toHaveLength(room - 2)
          expect(c.rows.filter((r) => r.status === "pending")).toHaveLength(4 - (room - 2))
        }), { maxInFlight }, settings)
      }
    }))

  it.scoped("a new delivery is handed off directly only until a retry of its sink is due; from then on it queues behind it", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const mem = yield* MemorySink
        const dispatcher = yield* Dispatcher
        let failFirst = true
        yield* mem.setHandler(() => Effect.suspend(() => {
          if (!failFirst) return Effect.succeed({})
          failFirst = false
          return Effect.fail(new SinkFailure({ retryable: true, code: "http_503", message: "down" }))
        }))
        const first = yield* herald.enqueue({ kind: "k", title: "retried" })
        const waiting = yield* eventually(deliveryOf(herald, first.notification.id), (d) => d.status === "retry_wait", "first attempt failed")
        // Caught up, with the retry not yet due: a new delivery may skip the queue (direct hand-off).
        const second = yield* herald.enqueue({ kind: "k", title: "handed off" })
        yield* eventually(deliveryOf(herald, second.notification.id), (d) => d.status === "sent", "second sent")
        const settings = yield* herald.getSettings
        const before = waiting.nextAttemptAt! - 1
        expect(dispatcher.leaseAtOnce([planned(before)], notificationOf(before), settings, before).claimed).toHaveLength(1)
        // At the retry's due time it is older than anything new: nothing may jump ahead of it.
        const due = waiting.nextAttemptAt!
        const atDue = dispatcher.leaseAtOnce([planned(due)], notificationOf(due), settings, due)
        expect(atDue.claimed).toEqual([])
        expect(atDue.rows[0]!.status).toBe("pending")
        // End to end: at the due time, the retry reaches the sink before what is enqueued then (received lists successes).
        yield* TestClock.setTime(due)
        const third = yield* herald.enqueue({ kind: "k", title: "after the retry" })
        yield* eventually(deliveryOf(herald, third.notification.id), (d) => d.status === "sent", "third sent")
        expect((yield* mem.received).map((r) => r.notification.title)).toEqual(["handed off", "retried", "after the retry"])
      }))
    }))
})

describe("Supervisor lease rescue", () => {
  const pullSettings = { ...memorySettings, sinks: { desk: { type: "desktop" } }, routes: [{ sink: "desk" }] }

  it.scoped("an expired lease is rescued as a failed attempt with backoff, not at once, and the late worker changes nothing", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const [claimed] = yield* herald.claim({ sink: "desk", owner: "w1", limit: 5, leaseMs: 10_000 })
        expect(claimed!.delivery).toMatchObject({ status: "leased", leaseOwner: "w1", leaseExpiresAt: 10_000 })
        expect(yield* herald.claim({ sink: "desk", owner: "w2", limit: 5 })).toEqual([])
        yield* TestClock.setTime(9_999)
        yield* stays(deliveryOf(herald, notification.id), (d) => d.status === "leased", "rescued before the lease expired")
        yield* TestClock.setTime(10_000)
        const rescued = yield* eventually(deliveryOf(herald, notification.id), (d) => d.status === "retry_wait", "rescued")
        expect(rescued.attempts).toBe(1)
        expect(rescued.rescues).toBe(1)
        // The backoff runs from the rescue (at 10 s, or a few ms after it on PostgreSQL: see eventually).
        expect(rescued.updatedAt).toBeGreaterThanOrEqual(10_000)
        expect(rescued.nextAttemptAt! - rescued.updatedAt).toBeGreaterThanOrEqual(backoffFloorMs(policy))
        expect(rescued.nextAttemptAt! - rescued.updatedAt).toBeLessThanOrEqual(backoffCeilingMs(policy, 1))
        const late = yield* Effect.flip(herald.ack(claimed!.delivery.id, { owner: "w1", version: claimed!.delivery.version }))
        expect(late).toBeInstanceOf(StaleWrite)
        const after = yield* herald.getDelivery(claimed!.delivery.id)
        expect(after.delivery).toMatchObject({ status: "retry_wait", version: rescued.version })
        expect(after.attempts.map((a) => a.outcome)).toEqual(["lease_expired"])
        // Due again after the backoff: claimable, and acked by the new owner.
        yield* TestClock.setTime(rescued.nextAttemptAt!)
        const [again] = yield* herald.claim({ sink: "desk", owner: "w2", limit: 5 })
        expect(again!.delivery.id).toBe(claimed!.delivery.id)
        const wrongOwner = yield* Effect.flip(herald.ack(again!.delivery.id, { owner: "w1", version: again!.delivery.version }))
        expect(wrongOwner.message).toContain("another owner")
        const sent = yield* herald.ack(again!.delivery.id, { owner: "w2", version: again!.delivery.version, externalId: "desk-42" })
        expect(sent).toMatchObject({ status: "sent", externalId: "desk-42", attempts: 2 })
      }), {}, pullSettings)
    }))

  it.scoped("an outcome for an old lease is refused even when the same owner holds the delivery again", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        yield* herald.enqueue({ kind: "k", title: "t" })
        const [first] = yield* herald.claim({ sink: "desk", owner: "desktop", limit: 1, leaseMs: 10_000 })
        yield* TestClock.setTime(10_000)
        const rescued = yield* eventually(herald.getDelivery(first!.delivery.id), (d) => d.delivery.status === "retry_wait", "rescued")
        yield* TestClock.setTime(rescued.delivery.nextAttemptAt!)
        const [second] = yield* herald.claim({ sink: "desk", owner: "desktop", limit: 1 })
        expect(second!.delivery.id).toBe(first!.delivery.id)
        const stale = yield* Effect.flip(herald.nack(first!.delivery.id, { owner: "desktop", version: first!.delivery.version, code: "x", message: "late", retryable: true }))
        expect(stale).toBeInstanceOf(StaleWrite)
        expect(stale.message).toContain("no longer current")
        expect((yield* herald.getDelivery(first!.delivery.id)).delivery).toMatchObject({ status: "leased", version: second!.delivery.version })
        const sent = yield* herald.ack(second!.delivery.id, { owner: "desktop", version: second!.delivery.version })
        expect(sent.status).toBe("sent")
      }), {}, pullSettings)
    }))
})
