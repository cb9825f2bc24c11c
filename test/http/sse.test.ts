import { expect, layer } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { call, openPausableSse, storedSeqs, testServer, useDesktopSink } from "./support.js"

// Long enough that the polling below (20 ms of test time a round) never reaches it by accident.
const stallMs = 60_000

const enqueue = (n: number, kind: string) =>
  Effect.flatMap(Herald, (h) => h.enqueueMany(Array.from({ length: n }, (_, i) => ({ kind, title: `${"x".repeat(900)}${i}` }))))

const dropped = Effect.map(call("GET", "/metrics"), (r) => {
  const line = (r.body as string).split("\n").find((l) => l.startsWith('herald_sse_disconnects_total{reason="slow_client"}'))
  return line === undefined ? 0 : Number(line.split(" ").pop())
})

/** One round of letting the daemon work: test time past the fan-out's hand-out pause, then Node's I/O. */
const settle = Effect.gen(function* () {
  yield* TestClock.adjust("20 millis")
  yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
})

const until = (done: () => boolean, what: string, rounds = 3_000) =>
  Effect.gen(function* () {
    for (let i = 0; i < rounds; i++) {
      if (done()) return
      yield* settle
    }
    return yield* Effect.dieMessage(`never happened: ${what}`)
  })

// The daemon runs on the test clock: the stall check and the heartbeats move only when the test moves time.
layer(testServer({ sseHeartbeatMs: 15_000, sseStallMs: stallMs }))("SSE clients that stop reading", (it) => {
  it.effect("a client that stops reading is ended cleanly after the stall interval, and resuming from its Last-Event-ID gets every change once", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      yield* useDesktopSink
      const start = yield* herald.latestSeq
      const slow = yield* openPausableSse(`/v1/events?after=${start}`)
      yield* until(() => slow.frames.length > 0, "the opening lines")
      yield* slow.pause
      const before = yield* dropped
      // Changes until its kernel buffers and the server's are full (some 6 MB), then a stall interval without reading.
      for (let batch = 0; (yield* dropped) === before; batch++) {
        if (batch >= 40) return yield* Effect.dieMessage("the client that stopped reading was never ended")
        yield* enqueue(500, "flood")
        for (let i = 0; i < 10; i++) yield* settle
        if (batch >= 8) yield* TestClock.adjust(stallMs + 1_000)
      }
      // It reads again: what it was given, then the end of the body (a cut connection would not end it).
      yield* slow.resume
      yield* until(() => slow.ended(), "the end of the ended stream")
      expect(slow.endedCleanly()).toBe(true)
      const seen = slow.changes().map((e) => e.seq)
      expect(seen.length).toBeGreaterThan(0)
      expect(seen).toEqual(yield* storedSeqs(start, seen[seen.length - 1]!))
      const lastId = slow.frames.filter((f) => f.id !== undefined).pop()!.id!
      expect(Number(lastId)).toBe(seen[seen.length - 1])

      const end = yield* herald.latestSeq
      const again = yield* openPausableSse("/v1/events", { "last-event-id": lastId })
      yield* until(() => (again.changes().at(-1)?.seq ?? 0) >= end, "the resumed stream reaching the newest change")
      yield* again.close
      expect([...seen, ...again.changes().map((e) => e.seq)]).toEqual(yield* storedSeqs(start, end))
    }), { timeout: 120_000 })

  it.effect("a slow client that falls behind the shared buffer gets what it missed from the database, each change once", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      yield* useDesktopSink
      const start = yield* herald.latestSeq
      const slow = yield* openPausableSse(`/v1/events?after=${start}`)
      const fast = yield* openPausableSse(`/v1/events?after=${start}`)
      yield* until(() => slow.frames.length > 0, "the opening lines")
      yield* slow.pause
      // About 17 MB of changes: more than its socket buffers hold and than the shared buffer keeps (4,096 frames).
      for (let batch = 0; batch < 24; batch++) {
        yield* enqueue(500, "behind")
        for (let i = 0; i < 5; i++) yield* settle
      }
      const end = yield* herald.latestSeq
      yield* until(() => (fast.changes().at(-1)?.seq ?? 0) >= end, "the client that reads keeping up")
      yield* slow.resume
      yield* until(() => (slow.changes().at(-1)?.seq ?? 0) >= end, "the slow client catching up")
      yield* slow.close
      yield* fast.close
      const stored = yield* storedSeqs(start, end)
      expect(slow.changes().map((e) => e.seq)).toEqual(stored)
      expect(fast.changes().map((e) => e.seq)).toEqual(stored)
      expect(slow.endedCleanly()).toBe(false) // it was never dropped: it read again within the stall interval
    }), { timeout: 120_000 })
})
