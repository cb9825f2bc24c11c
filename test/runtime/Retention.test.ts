import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream, TestClock } from "effect"
import { ChangeEvent, Resync } from "../../src/domain/ChangeEvent.js"
import { ChangeLogStore } from "../../src/store/ChangeLogStore.js"
import { Retention } from "../../src/runtime/Retention.js"
import { Supervisor } from "../../src/runtime/Supervisor.js"
import { Writer } from "../../src/store/Writer.js"
import { eventually, seqsAfter, withHerald } from "../support/herald.js"

describe("change_log retention", () => {
  it.scoped("deletes changes older than the retention once published, keeps the newest, and a stale resume gets a Resync", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const changes = yield* ChangeLogStore
        const supervisor = yield* Supervisor
        const retention = yield* Retention
        const published = Effect.flatMap(herald.latestSeq, (latest) => eventually(supervisor.offset, (o) => o === latest, "published"))

        yield* herald.enqueueMany([{ kind: "k", title: "old 1" }, { kind: "k", title: "old 2" }])
        yield* eventually(herald.stats(), (s) => s.byStatus["sent"] === 2, "old ones sent")
        const oldEnd = yield* herald.latestSeq
        yield* TestClock.setTime(30_000)
        yield* herald.enqueue({ kind: "k", title: "recent" })
        yield* eventually(herald.stats(), (s) => s.byStatus["sent"] === 3, "recent one sent")
        yield* published

        // At 60 s the changes made at 0 have been kept a full minute: they go, the recent ones stay.
        const [firstRecent] = yield* seqsAfter(oldEnd)
        yield* TestClock.setTime(60_001)
        yield* retention.pruneOnce()
        expect((yield* Effect.orDie(changes.bounds)).oldest).toBe(firstRecent)

        const resumed = yield* herald.subscribe(0).pipe(Stream.take(2), Stream.runCollect)
        const [first, second] = Chunk.toReadonlyArray(resumed)
        expect(first).toEqual(new Resync({ requestedAfter: 0, oldestAvailable: firstRecent! }))
        expect((second as ChangeEvent).seq).toBe(firstRecent)

        // A minute later everything has expired, but the newest change is kept: seqs never go back.
        const newest = yield* herald.latestSeq
        const kept = yield* seqsAfter(0)
        yield* TestClock.setTime(120_000)
        yield* retention.pruneOnce()
        expect(yield* Effect.orDie(changes.bounds)).toEqual({ oldest: newest, newest, prunedThrough: kept[kept.length - 2] })
        const { notification } = yield* herald.enqueue({ kind: "k", title: "after" })
        const next = yield* herald.subscribe(newest).pipe(Stream.take(1), Stream.runCollect)
        expect(Chunk.toReadonlyArray(next)[0]).toMatchObject({ seq: (yield* seqsAfter(newest))[0], entity: "notification", entityId: notification.id })
      }), { changeRetentionMs: 60_000, feedPollMs: 5_000 }) // few pump wake-ups while the clock jumps
    }))

  it.scoped("never deletes a change the supervisor has not published yet", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const changes = yield* ChangeLogStore
        const retention = yield* Retention
        const supervisor = yield* Supervisor
        // No background fibers here: nothing publishes these changes.
        yield* herald.enqueueMany([{ kind: "k", title: "a" }, { kind: "k", title: "b" }])
        const published = yield* supervisor.offset
        const newest = yield* herald.latestSeq
        expect(newest).toBeGreaterThan(published + 2)
        yield* TestClock.setTime(120_000)
        yield* retention.pruneOnce()
        const [unpublished] = yield* seqsAfter(published)
        expect(yield* Effect.orDie(changes.bounds)).toEqual({ oldest: unpublished, newest, prunedThrough: published })
      }), { background: false, changeRetentionMs: 60_000 })
    }))

  it.scoped("a subscriber reading its backlog while retention deletes what it has not read yet gets a Resync, not a silent gap", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const changes = yield* ChangeLogStore
        const writer = yield* Writer
        yield* herald.enqueueMany(Array.from({ length: 1_200 }, (_, i) => ({ kind: "k", title: `n${i}` })))
        const pull = yield* Stream.toPull(herald.subscribe(0))
        const first = Chunk.toReadonlyArray(yield* pull) as ReadonlyArray<ChangeEvent>
        expect(first.length).toBeGreaterThan(0)
        const read = first[first.length - 1]!.seq
        const all = yield* seqsAfter(0)
        const at = all.indexOf(read)
        expect(at).toBe(first.length - 1)
        // Retention deletes the next 500 changes before the subscriber asks for them.
        yield* TestClock.setTime(60_000)
        expect(yield* writer.transaction(changes.prune(60_000, all[at + 500]!, 100_000))).toBe(at + 501)
        const next = Chunk.toReadonlyArray(yield* pull)
        expect(next[0]).toEqual(new Resync({ requestedAfter: read, oldestAvailable: all[at + 501]! }))
        expect((next[1] as ChangeEvent).seq).toBe(all[at + 501])
      }), { background: false })
    }))
})
