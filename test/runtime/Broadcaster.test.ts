import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream, TestClock } from "effect"
import { ChangeEvent, Resync } from "../../src/domain/ChangeEvent.js"
import { Dispatcher } from "../../src/runtime/Dispatcher.js"
import { eventually, ioTurn, memorySettings, seqsAfter, withHerald } from "../support/herald.js"

const key = (e: unknown) => (e instanceof ChangeEvent ? `${e.entity}:${e.event}` : "resync")

describe("change feed", () => {
  it.scoped("a subscriber sees every change of a delivery once, in commit order (direct hand-off: created leased)", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        // A first delivery, claimed by the dispatcher, leaves it caught up with the sink.
        yield* herald.enqueue({ kind: "k", title: "warm-up" })
        yield* eventually(herald.stats(), (s) => s.byStatus["sent"] === 1, "warm-up sent")
        // Its call over, the dispatcher's next claim finds the sink caught up (on PostgreSQL that
        // takes I/O turns after the commit the stats show).
        const dispatcher = yield* Dispatcher
        yield* eventually(dispatcher.inFlight, (n) => n === 0, "the warm-up call finished")
        for (let i = 0; i < 50; i++) yield* ioTurn
        const start = yield* herald.latestSeq
        const fiber = yield* herald.subscribe(start).pipe(Stream.take(3), Stream.runCollect, Effect.fork)
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const events = Chunk.toReadonlyArray(yield* Fiber.join(fiber)) as ReadonlyArray<ChangeEvent>
        // The dispatcher had nothing waiting for this sink, so the delivery was created leased to it.
        expect(events.map(key)).toEqual(["notification:created", "delivery:created", "delivery:sent"])
        expect(events[0]!.entityId).toBe(notification.id)
        expect(events[1]!.payload).toMatchObject({ status: "leased", version: 1 })
        expect(events[2]!.payload).toMatchObject({ from: "leased", status: "sent", attempts: 1, version: 2 })
        expect(events.map((e) => e.seq)).toEqual(yield* seqsAfter(start))
        const rest = yield* herald.subscribe(events[2]!.seq).pipe(Stream.take(1), Stream.runCollect, Effect.timeoutOption("10 millis"), Effect.fork)
        yield* TestClock.adjust("10 millis")
        expect(Option.isNone(yield* Fiber.join(rest))).toBe(true) // nothing more: one entry per change
      }))
    }))

  it.scoped("a delivery that waited (routed when routing is switched on) is claimed: created pending, leased, sent", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const start = yield* herald.latestSeq
        const fiber = yield* herald.subscribe(start).pipe(Stream.take(5), Stream.runCollect, Effect.fork)
        yield* herald.putSettings({ ...memorySettings, enabled: true })
        const events = Chunk.toReadonlyArray(yield* Fiber.join(fiber)) as ReadonlyArray<ChangeEvent>
        expect(events.map(key)).toEqual(["settings:updated", "delivery:created", "notification:routed", "delivery:leased", "delivery:sent"])
        expect(events[1]!.payload).toMatchObject({ notificationId: notification.id, status: "pending", version: 0 })
        expect(events.map((e) => e.seq)).toEqual(yield* seqsAfter(start))
      }), {}, { ...memorySettings, enabled: false })
    }))

  it.scoped("resuming from a sequence number gives the rest with no gap and no duplicate", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        yield* herald.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ kind: "k", title: `t${i}` })))
        const stats = yield* eventually(herald.stats(), (s) => s.byStatus["sent"] === 50, "all sent")
        expect(stats.dead).toBe(0)
        const end = yield* herald.latestSeq
        const all = Chunk.toReadonlyArray(yield* herald.subscribe(0).pipe(Stream.takeUntil((e) => e instanceof ChangeEvent && e.seq >= end), Stream.runCollect)) as ReadonlyArray<ChangeEvent>
        const cut = all[Math.floor(all.length / 2)]!.seq
        const resumed = Chunk.toReadonlyArray(yield* herald.subscribe(cut).pipe(Stream.takeUntil((e) => e instanceof ChangeEvent && e.seq >= end), Stream.runCollect)) as ReadonlyArray<ChangeEvent>
        expect(resumed.map((e) => e.seq)).toEqual(all.filter((e) => e.seq > cut).map((e) => e.seq))
        expect(new Set(all.map((e) => e.seq)).size).toBe(all.length)
        all.forEach((e, i) => i > 0 && expect(e.seq).toBeGreaterThan(all[i - 1]!.seq))
      }))
    }))

  it.scoped("a cursor past the newest change (a restored database) gets a Resync, then follows from the newest", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const newest = yield* herald.latestSeq
        const pull = yield* Stream.toPull(herald.subscribe(newest + 100).pipe(Stream.rechunk(1)))
        expect(Chunk.toReadonlyArray(yield* pull)).toEqual([new Resync({ requestedAfter: newest + 100, oldestAvailable: newest + 1 })])
        const { notification } = yield* herald.enqueue({ kind: "k", title: "after the restore" })
        const [next] = yield* seqsAfter(newest)
        expect(Chunk.toReadonlyArray(yield* pull)[0]).toMatchObject({ seq: next, entity: "notification", entityId: notification.id })
      }), { background: false })
    }))

  it.scoped("a subscriber that does not read never blocks the others, and later reads everything with no gap", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const start = yield* herald.latestSeq
        // The slow subscriber takes one event, then reads nothing while 8,000 changes flow past its 4,096-entry buffer.
        const pull = yield* Stream.toPull(herald.subscribe(start).pipe(Stream.rechunk(1)))
        const first = yield* Effect.fork(pull)
        const n = 2_000
        // Each notification's last change is its delivery's `sent` (3 or 4 changes each: whether
        // a delivery is created leased or pending depends on the dispatcher's timing).
        let sent = 0
        const isLast = (e: unknown) => e instanceof ChangeEvent && e.entity === "delivery" && e.event === "sent" && ++sent === n
        const fast = yield* herald.subscribe(start).pipe(Stream.takeUntil(isLast), Stream.runCollect, Effect.fork)
        yield* herald.enqueueMany(Array.from({ length: n }, (_, i) => ({ kind: "k", title: `t${i}` })))
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(fast)) as ReadonlyArray<ChangeEvent>
        const all = yield* seqsAfter(start)
        expect(seen.map((e) => e.seq)).toEqual(all)
        expect(all.length).toBeGreaterThanOrEqual(n * 3)
        const late: Array<ChangeEvent> = [...Chunk.toReadonlyArray(yield* Fiber.join(first))] as Array<ChangeEvent>
        while (late.length < all.length) late.push(...(Chunk.toReadonlyArray(yield* pull) as ReadonlyArray<ChangeEvent>))
        expect(late.map((e) => e.seq)).toEqual(all)
      }))
    }))
})
