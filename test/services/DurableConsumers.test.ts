import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream, TestClock } from "effect"
import * as fc from "fast-check"
import { ChangeEvent, Resync } from "../../src/domain/ChangeEvent.js"
import { Herald } from "../../src/layers/Herald.js"
import { Retention } from "../../src/runtime/Retention.js"
import { Supervisor } from "../../src/runtime/Supervisor.js"
import { eventually, eventuallyByPoll, memorySettings, provideHerald, seqsAfter, sharedHerald, tempDatabase, withHerald } from "../support/herald.js"

const seqs = (events: Chunk.Chunk<ChangeEvent | Resync>) => Chunk.toReadonlyArray(events).map((e) => (e instanceof ChangeEvent ? e.seq : "resync"))

/** Few pump wake-ups while the clock jumps. */
const feedPollMs = 5_000

describe("durable consumers", () => {
  it.scoped("a durable subscription resumes after the offset it committed, also after the layer is closed and opened again on the same file", () =>
    Effect.gen(function* () {
      const db = yield* tempDatabase
      const { committed, end, rest } = yield* provideHerald(db, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings(memorySettings)
        const start = yield* herald.latestSeq
        yield* herald.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ kind: "k", title: `t${i}` })))
        const end = yield* herald.latestSeq
        // Never committed: it starts where it is told (else at the newest change), and reads on.
        const stored = yield* seqsAfter(start)
        const first = yield* herald.subscribeDurable("billing", { after: start }).pipe(Stream.take(4), Stream.runCollect)
        expect(seqs(first)).toEqual(stored.slice(0, 4))
        const consumer = yield* herald.commitOffset("billing", stored[3]!)
        // The lag counts the changes after the offset up to the newest one.
        expect(consumer).toMatchObject({ name: "billing", seq: stored[3], lag: stored.length - 4 })
        return { committed: stored[3]!, end, rest: stored.slice(4) }
      }), { background: false })

      yield* provideHerald(db, Effect.gen(function* () {
        const herald = yield* Herald
        expect(yield* herald.getConsumer("billing")).toMatchObject({ name: "billing", seq: committed })
        // The stored offset wins over `after`: that only places a consumer that has none.
        const resumed = yield* herald.subscribeDurable("billing", { after: 0 }).pipe(Stream.take(rest.length), Stream.runCollect)
        expect(seqs(resumed)).toEqual(rest)
        expect(rest[rest.length - 1]).toBe(end)
      }), { background: false })
    }))

  it.scoped("a consumer whose offset is older than what retention kept gets a Resync first, then every change kept", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const supervisor = yield* Supervisor
        const retention = yield* Retention
        const start = yield* herald.latestSeq
        yield* herald.commitOffset("late", start)
        yield* herald.enqueueMany([{ kind: "k", title: "old" }])
        yield* eventually(herald.stats(), (s) => s.byStatus["sent"] === 1, "sent")
        const oldEnd = yield* herald.latestSeq
        yield* eventuallyByPoll(supervisor.offset, (o) => o === oldEnd, "published", feedPollMs)
        yield* TestClock.setTime(60_001)
        yield* herald.enqueue({ kind: "k", title: "recent" })
        yield* eventually(herald.stats(), (s) => s.byStatus["sent"] === 2, "sent")
        yield* eventuallyByPoll(Effect.zip(supervisor.offset, herald.latestSeq), ([o, l]) => o === l, "published", feedPollMs)
        const [firstKept] = yield* seqsAfter(oldEnd)
        yield* TestClock.setTime(120_000)
        yield* retention.pruneOnce()
        const [first, second] = Chunk.toReadonlyArray(yield* herald.subscribeDurable("late").pipe(Stream.take(2), Stream.runCollect))
        expect(first).toEqual(new Resync({ requestedAfter: start, oldestAvailable: firstKept! }))
        expect((second as ChangeEvent).seq).toBe(firstKept)
      }), { changeRetentionMs: 60_000, feedPollMs })
    }))

  it.scoped("names are checked, and Herald's own readers' names are refused: the supervisor's offset cannot be moved", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const supervisor = yield* Supervisor
        const before = yield* supervisor.offset
        for (const name of ["supervisor", "Supervisor", "herald-metrics", "", "a b", "x".repeat(65), "../etc"]) {
          const error = yield* Effect.flip(herald.commitOffset(name, 0))
          expect(error._tag, name).toBe("InvalidInput")
          expect(error.message, name).toContain("name")
          expect(Either.isLeft(yield* Effect.either(herald.getConsumer(name))), name).toBe(true)
          const opened = yield* Effect.either(Stream.runDrain(Stream.take(herald.subscribeDurable(name), 1)))
          expect(Either.isLeft(opened) && opened.left._tag, name).toBe("InvalidInput")
        }
        expect(yield* supervisor.offset).toBe(before)
        expect(yield* herald.listConsumers()).toEqual([])
      }), { background: false })
    }))

  it.scoped("a commit past the newest change is refused, and a deleted consumer is gone", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const newest = yield* herald.latestSeq
        const ahead = yield* Effect.flip(herald.commitOffset("app", newest + 1))
        expect(ahead).toMatchObject({ _tag: "InvalidInput", issues: [{ path: "seq" }] })
        yield* herald.commitOffset("app", newest)
        expect((yield* herald.listConsumers()).map((c) => c.name)).toEqual(["app"])
        yield* herald.deleteConsumer("app")
        expect(yield* herald.listConsumers()).toEqual([])
        expect((yield* Effect.flip(herald.getConsumer("app")))._tag).toBe("ConsumerNotFound")
        expect((yield* Effect.flip(herald.deleteConsumer("app")))._tag).toBe("ConsumerNotFound")
      }), { background: false })
    }))

  it.scoped("for any sequence of commits, the offset only moves forward: an older seq is refused naming the committed one", () =>
    Effect.gen(function* () {
      const runtime = yield* sharedHerald
      const newest = yield* Effect.promise(() => runtime.runPromise(Effect.flatMap(Herald, (h) =>
        Effect.zipRight(h.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ kind: "k", title: `t${i}` }))), h.latestSeq))))
      let run = 0
      yield* Effect.promise(() => fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 0, max: newest }), { minLength: 1, maxLength: 30 }), (commits) =>
        runtime.runPromise(Effect.gen(function* () {
          const herald = yield* Herald
          const name = `p${run++}`
          let stored: number | undefined
          for (const seq of commits) {
            const result = yield* Effect.either(herald.commitOffset(name, seq))
            if (stored === undefined || seq >= stored) {
              expect(Either.getOrThrow(result).seq).toBe(seq)
              stored = seq
            } else {
              expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "OffsetBehind", consumer: name, committed: stored, requested: seq })
            }
          }
          // What is kept is the furthest commit, whatever order they came in.
          expect(stored).toBe(Math.max(...commits))
          expect((yield* herald.getConsumer(name)).seq).toBe(stored)
        }))), { numRuns: 50 }))
    }))
})
