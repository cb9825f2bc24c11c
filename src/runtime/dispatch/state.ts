/**
 * The dispatcher's shared, in-memory state: the deliveries in hand and each sink's count, the
 * rate limits' buckets, which sinks are caught up (the direct hand-off), what holds a sink, the
 * wake-ups its fibers wait on, and the queue of finished calls. One per dispatcher; only its
 * own fibers touch it.
 */
import { Effect, FiberSet, Queue } from "effect"
import { concurrencyOf, pullSinkTypes, rateOf, type Settings } from "../../domain/Settings.js"
import { makeWakeup } from "../../lib/Wakeup.js"
import { makeSinkHolds } from "../internal/SinkHolds.js"
import { available, type Bucket, nextTokenAt, refill, spend } from "../internal/TokenBucket.js"
import { Sinks } from "../Sinks.js"
import type { Claimed, InFlight, Outcome } from "./outcomes.js"

export const makeDispatchState = Effect.gen(function* () {
  const sinks = yield* Sinks
  const holds = makeSinkHolds()
  const work = yield* makeWakeup
  const freed = yield* makeWakeup
  /** Wakes the watchdog early: a call started with a deadline before its planned wake (the settings changed). */
  const watchdog = yield* makeWakeup
  /** When the watchdog plans to wake: a call with an earlier deadline wakes it sooner. */
  const watch = { wakesAt: Infinity }
  const inFlight = new Map<string, InFlight>()
  /** Deliveries in this dispatcher's hands per sink: what a sink's `concurrency` is counted against. */
  const inHand = new Map<string, number>()
  const hold = (row: Claimed) => {
    inFlight.set(row.id, { row, started: false, fiber: null, deadline: Infinity, timedOut: false })
    inHand.set(row.sink, (inHand.get(row.sink) ?? 0) + 1)
  }
  /** Lets go of a delivery, unless a newer lease of it (re-claimed meanwhile) is in hand. */
  const letGo = (row: Claimed) => {
    if (inFlight.get(row.id)?.row.version !== row.version) return
    inFlight.delete(row.id)
    const n = (inHand.get(row.sink) ?? 1) - 1
    if (n > 0) inHand.set(row.sink, n)
    else inHand.delete(row.sink)
  }
  /**
   * Deliveries enqueue transactions are creating leased to this process (the direct hand-off),
   * not adopted yet, per sink: counted as in hand, so two transactions open at once (possible
   * on PostgreSQL) cannot both take the last room under `maxInFlight` or a sink's concurrency.
   */
  const reserved = new Map<string, number>()
  let reservedTotal = 0
  /**
   * Reserves room for these sinks' deliveries; the effect given back returns it (once; again it
   * does nothing). It wakes no one: once adopted they are in flight, and their calls' ends wake
   * the claim loop; after a rollback (rare) the loop finds the room at its next look, within a second.
   */
  const reserve = (sinkOf: ReadonlyArray<string>): Effect.Effect<void> => {
    for (const sink of sinkOf) reserved.set(sink, (reserved.get(sink) ?? 0) + 1)
    reservedTotal += sinkOf.length
    let done = sinkOf.length === 0
    return Effect.sync(() => {
      if (done) return
      done = true
      for (const sink of sinkOf) {
        const n = (reserved.get(sink) ?? 1) - 1
        if (n > 0) reserved.set(sink, n)
        else reserved.delete(sink)
      }
      reservedTotal -= sinkOf.length
    })
  }
  /** Room under `maxInFlight` now: less the deliveries in flight and those reserved by a hand-off. */
  const roomIn = (maxInFlight: number) => maxInFlight - inFlight.size - reservedTotal
  /** Each rate-limited sink's token bucket; a delivery taken in hand spends a token. */
  const buckets = new Map<string, Bucket>()
  const bucketOf = (settings: Settings, sink: string, now: number) => {
    const rate = rateOf(settings.sinks[sink])
    if (rate === undefined) return undefined
    const bucket = refill(buckets.get(sink), rate, now)
    buckets.set(sink, bucket)
    return { bucket, rate }
  }
  /**
   * How many more deliveries of `sink` may be taken in hand now: its `concurrency` less those
   * held, and no more than its rate limit's whole tokens. A delivery held back by either waits
   * `pending`, unclaimed: no attempt, no lease.
   */
  const roomOf = (settings: Settings, sink: string, now: number) => {
    const free = concurrencyOf(settings.sinks[sink]) - (inHand.get(sink) ?? 0) - (reserved.get(sink) ?? 0)
    const limited = bucketOf(settings, sink, now)
    return limited === undefined ? free : Math.min(free, available(limited.bucket))
  }
  /** Spends `n` tokens of a rate-limited sink. */
  const spendOn = (sink: string, n: number) => {
    const bucket = buckets.get(sink)
    if (bucket !== undefined && n > 0) buckets.set(sink, spend(bucket, n))
  }
  /** When the first of these sinks' rate limits gives a token again (Infinity: none is limited now). */
  const nextTokenOf = (settings: Settings, names: ReadonlyArray<string>, now: number) => {
    let at = Infinity
    for (const name of names) {
      const limited = bucketOf(settings, name, now)
      if (limited !== undefined && available(limited.bucket) < 1) at = Math.min(at, nextTokenAt(limited.bucket, limited.rate))
    }
    return at
  }
  const outcomes = yield* Queue.unbounded<Outcome>()
  const calls = yield* FiberSet.make<void, never>()
  /**
   * Push sinks whose last claim found less than it asked for, each with the time the first
   * delivery still waiting for it becomes due: until then nothing older waits, and new
   * deliveries may be handed off directly. From then on they queue behind it.
   */
  const caughtUp = new Map<string, number>()
  const isCaughtUp = (sink: string, now: number) => (caughtUp.get(sink) ?? -Infinity) > now
  /** A retry this process scheduled ends the hand-off of its sink once it is due. */
  const noteRetry = (sink: string, atMs: number) => {
    const until = caughtUp.get(sink)
    if (until !== undefined && atMs < until) caughtUp.set(sink, atMs)
  }

  const pushSinks = (s: Settings) =>
    Object.entries(s.sinks).flatMap(([name, c]) => (c.enabled && !pullSinkTypes.has(c.type) && sinks.has(c.type) ? [name] : []))

  return {
    work, freed, watchdog, watch, inFlight, inHand, hold, letGo, reserve, roomIn, roomOf, spendOn, nextTokenOf,
    outcomes, calls, caughtUp, isCaughtUp, noteRetry, pushSinks, holds
  } as const
})

export type DispatchState = Effect.Effect.Success<typeof makeDispatchState>
