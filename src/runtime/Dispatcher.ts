/**
 * Claims due deliveries of the push sinks in batches with a lease, hands them to their
 * sinks with bounded concurrency, and persists the outcomes in batches (group commit).
 * Claim, delivery and persistence run as a pipeline. Leases of slow sink calls are renewed;
 * every sink call has a deadline well below the lease, kept by one watchdog fiber (a timer
 * per call would cost more than a fast sink's call). Rescue of expired leases is the Supervisor's.
 */
import { Cause, Clock, Duration, Effect, Exit, type Fiber, FiberSet, Option, Queue } from "effect"
import type { HeldBy } from "../domain/Delivery.js"
import { IllegalTransition } from "../domain/errors.js"
import { circuitPolicyOf, concurrencyOf, pullSinkTypes, rateOf, type Settings } from "../domain/Settings.js"
import type { SinkDelivery, SinkReceipt } from "../domain/Sink.js"
import { SinkFailure } from "../domain/Sink.js"
import { type DeliveryEvent, step, stepAll, type Stepped } from "../machines/delivery.js"
import { type CircuitFact, Circuits } from "./Circuits.js"
import { type ClaimRow, DeliveryStore, type NewDelivery, type Transition } from "../store/DeliveryStore.js"
import type { NotificationRow } from "../store/NotificationStore.js"
import { callTimeoutMs, timeoutFailure } from "./internal/callTimeout.js"
import { contextOf, rowAfter, toTransition } from "./internal/transitions.js"
import { nextTurn } from "../lib/Batcher.js"
import { runPooled } from "../lib/pool.js"
import { busyBackoff, runForever } from "../lib/loops.js"
import { available, type Bucket, nextTokenAt, refill, spend } from "./internal/TokenBucket.js"
import { makeSinkHolds } from "./internal/SinkHolds.js"
import { makeWakeup } from "../lib/Wakeup.js"
import { RetrySchedules } from "./RetrySchedules.js"
import { Router } from "./Router.js"
import { RuntimeConfig } from "./RuntimeConfig.js"
import { Sinks } from "./Sinks.js"
import { SettingsStore } from "../store/SettingsStore.js"
import { isTransientStorageError, Writer } from "../store/Writer.js"

/** A leased row in this dispatcher's hands, with the time it was due when claimed (where RELEASE puts it back). */
export interface Claimed extends ClaimRow {
  readonly dueAt: number
  /** What held it back after it was due (its attempt records it). */
  readonly heldBy: HeldBy | null
}

interface InFlight {
  row: Claimed
  /** Whether its sink call has started: a lease whose call never started is given back without an attempt. */
  started: boolean
  /** The worker running this delivery's sink call, while it runs. */
  fiber: Fiber.RuntimeFiber<unknown, unknown> | null
  /** When the running call is cut short. */
  deadline: number
  /** Set by the watchdog before it interrupts the call. */
  timedOut: boolean
}

interface Outcome {
  readonly row: Claimed
  readonly startedAt: number
  readonly finishedAt: number
  readonly exit: Exit.Exit<SinkReceipt, SinkFailure>
}

/** Calls under way at once within one claimed batch. */
const sinkConcurrency = 64

const toSinkDelivery = (row: ClaimRow): SinkDelivery => ({
  deliveryId: row.id,
  idempotencyKey: row.id,
  attempt: row.attempts + 1,
  sink: row.sink,
  notification: {
    id: row.notificationId,
    kind: row.kind,
    priority: row.priority,
    title: row.title,
    body: row.body,
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    projectId: row.projectId,
    sessionId: row.sessionId,
    createdAt: row.notificationCreatedAt
  }
})

const interruptedFailure = new SinkFailure({ retryable: true, code: "interrupted", message: "the sink call was interrupted" })

const noReceipt: Exit.Exit<SinkReceipt, SinkFailure> = Exit.succeed({})

/** The attempt's timing as it is recorded, with what held the call back. */
const timingOf = (o: Outcome) => ({ startedAt: o.startedAt, finishedAt: o.finishedAt, heldBy: o.row.heldBy })

/**
 * An outcome as the sink's circuit counts it. An interruption (a graceful stop cut the call
 * short) says nothing about the sink: it counts as given back, not as a failure.
 */
const factOf = (o: Outcome): CircuitFact => {
  const { id: deliveryId, sink } = o.row
  if (Exit.isSuccess(o.exit)) return { _tag: "succeeded", sink, deliveryId }
  const failure = Cause.failureOption(o.exit.cause)
  const f = Option.isSome(failure) ? failure.value : interruptedFailure
  return f.code === interruptedFailure.code
    ? { _tag: "released", sink, deliveryId }
    : { _tag: "failed", sink, deliveryId, retryable: f.retryable, code: f.code, message: f.message }
}

/**
 * A success as the runtime records it. An embedder's sink is plain JavaScript and may answer
 * anything (undefined, a number for externalId): only a string externalId is kept, at most
 * 1,000 characters, so one odd answer can never fail the outcome batch it is persisted in.
 */
const successOf = (receipt: unknown): Exit.Exit<SinkReceipt, SinkFailure> => {
  const externalId = (receipt as { externalId?: unknown } | null | undefined)?.externalId
  return typeof externalId === "string" ? Exit.succeed({ externalId: externalId.slice(0, 1_000) }) : noReceipt
}

/** What a finished call counts as: its own result, or a timeout, defect or interruption as a retryable failure. */
const outcomeOf = (exit: Exit.Exit<SinkReceipt, SinkFailure>, timedOut: boolean): Exit.Exit<SinkReceipt, SinkFailure> => {
  if (timedOut) return Exit.fail(timeoutFailure)
  if (Exit.isSuccess(exit)) return successOf(exit.value)
  if (Option.isSome(Cause.failureOption(exit.cause))) return exit
  const defect = Cause.dieOption(exit.cause)
  return Option.isSome(defect)
    ? Exit.fail(new SinkFailure({ retryable: true, code: "sink_defect", message: defect.value instanceof Error ? defect.value.message : String(defect.value) }))
    : Exit.fail(interruptedFailure)
}

/** Steps claimed rows with CLAIM (retry_wait rows become DUE first); returns the fenced writes. */
export const claimTransitions = (rows: ReadonlyArray<ClaimRow>, owner: string, leaseMs: number, now: number) => {
  const due: DeliveryEvent = { type: "DUE", now }
  const claim: DeliveryEvent = { type: "CLAIM", now, owner, leaseMs }
  const ready = rows.map((row) => {
    if (row.status !== "retry_wait") return { row, status: row.status, context: contextOf(row) }
    const s = step(row.status, contextOf(row), due)
    return s instanceof IllegalTransition ? { row, status: row.status, context: contextOf(row) } : { row, status: s.status, context: s.context }
  })
  const stepped = stepAll(ready, claim)
  const out: Array<Transition> = []
  stepped.forEach((s, i) => {
    if (s instanceof IllegalTransition) return
    out.push(toTransition(ready[i]!.row, s, now, null))
  })
  return out
}


export class Dispatcher extends Effect.Service<Dispatcher>()("herald/Dispatcher", {
  scoped: Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const writer = yield* Writer
    const store = yield* DeliveryStore
    const settingsStore = yield* SettingsStore
    const circuits = yield* Circuits
    const holds = makeSinkHolds()
    const retrySchedules = yield* RetrySchedules
    const sinks = yield* Sinks
    const router = yield* Router
    const work = yield* makeWakeup
    const freed = yield* makeWakeup
    /** Wakes the watchdog early: a call started with a deadline before its planned wake (the settings changed). */
    const watchdog = yield* makeWakeup
    let watchdogWakesAt = Infinity
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
      const free = concurrencyOf(settings.sinks[sink]) - (inHand.get(sink) ?? 0)
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

    /** One claim transaction over the push sinks; returns the leased rows. */
    const claimDue = Effect.fn("Dispatcher.claimDue")(function* (settings: Settings, names: ReadonlyArray<string>, room: number) {
      return yield* writer.transaction(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const perSink = Math.max(1, Math.ceil(Math.min(room, config.claimBatch) / names.length))
        const claimed: Array<Claimed> = []
        // Without a breaker in the settings and no circuit held, there is nothing to read: the hot path stays one query shorter.
        if (holds.anyHeld() || Object.values(settings.sinks).some((c) => circuitPolicyOf(c) !== null)) {
          holds.sync(yield* circuits.admissions(settings, now))
        }
        for (const name of names) {
          const gate = holds.gateOf(name)
          if (gate === "hold") {
            // An open circuit (or a probe in flight): its due deliveries wait, spending no attempt.
            holds.note(name, "circuit_open", now)
            caughtUp.delete(name)
            continue
          }
          const wanted = Math.min(perSink, concurrencyOf(settings.sinks[name]) - (inHand.get(name) ?? 0))
          const take = Math.min(gate === "probe" ? 1 : perSink, roomOf(settings, name, now))
          const rateBound = take < wanted
          if (take <= 0) {
            // At its concurrency or rate: due deliveries may be waiting, so new ones must queue behind them.
            if (rateBound) holds.note(name, "rate_limited", now)
            caughtUp.delete(name)
            continue
          }
          const rows = yield* store.due(name, now, take)
          if (gate === "probe") {
            caughtUp.delete(name)
            if (rows.length === 0) continue
            // Half open: this one delivery is the probe; a refusal (another process took one) claims nothing.
            const taken = yield* circuits.takeProbe(name, rows[0]!.id, now)
            holds.probeTaken(name)
            if (!taken) continue
          }
          if (rows.length > 0) {
            const transitions = claimTransitions(rows, config.owner, settings.leaseMs, now)
            const written = yield* store.persist(transitions)
            const byId = new Map(rows.map((r) => [r.id, r]))
            for (const t of transitions) {
              const before = byId.get(t.id)!
              const dueAt = before.nextAttemptAt ?? now
              if (written.has(t.id)) claimed.push({ ...rowAfter(before, t), dueAt, heldBy: holds.heldByOf(name, dueAt) })
            }
            spendOn(name, written.size)
          }
          // The rate limit cut this claim short: what is still due waits for tokens.
          if (rateBound && gate !== "probe" && rows.length === take) holds.note(name, "rate_limited", now)
          if (gate === "probe") continue
          // Caught up: what still waits for this sink is due later (read after the claim, in its transaction).
          if (rows.length < take) caughtUp.set(name, (yield* store.nextDueAtOf(name)) ?? Infinity)
          else caughtUp.delete(name)
        }
        return claimed
      }))
    })

    /**
     * One sink call on a pool worker. Only the sink's own effect is interruptible (by the
     * watchdog at its deadline, or at shutdown); the outcome is always recorded.
     */
    const callSink = (row: Claimed, settings: Settings, clock: Clock.Clock) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.withFiberRuntime<void>((fiber) => {
          const startedAt = clock.unsafeCurrentTimeMillis()
          const record = (exit: Exit.Exit<SinkReceipt, SinkFailure>) =>
            Queue.offer(outcomes, { row, startedAt, finishedAt: clock.unsafeCurrentTimeMillis(), exit })
          const sinkConfig = settings.sinks[row.sink]
          const impl = sinkConfig && sinks.get(sinkConfig.type)
          const entry = inFlight.get(row.id)
          // The sink was removed after the claim: no call starts, so no attempt is spent. The
          // lease is given back; the removed sink's waiting deliveries are then set aside.
          if (sinkConfig === undefined || impl === undefined) return Effect.asVoid(releaseLeases([row]))
          let early: Effect.Effect<void> = Effect.void
          if (entry !== undefined) {
            entry.started = true
            entry.fiber = fiber
            entry.deadline = startedAt + callTimeoutMs(sinkConfig, settings.leaseMs)
            if (entry.deadline < watchdogWakesAt) early = watchdog.notify
          }
          // suspend: a sink (an embedder's own) that throws while building its effect fails this call only.
          return Effect.zipRight(early, Effect.flatMap(Effect.exit(restore(Effect.suspend(() => impl.deliver(sinkConfig, toSinkDelivery(row))))), (exit) => {
            if (entry !== undefined) entry.fiber = null
            // An answer that arrived as the deadline passed still counts as the answer.
            return record(outcomeOf(exit, entry?.timedOut === true && Exit.isFailure(exit)))
          }))
        }))

    /** Drops an outcome's delivery from the in-flight set, unless a newer lease of it (re-claimed meanwhile) is there. */
    const forget = (o: Outcome) => letGo(o.row)

    /** Persists a batch of outcomes; a stale one (its lease was rescued meanwhile) changes nothing. */
    const persistOutcomes = Effect.fn("Dispatcher.persistOutcomes")(function* (batch: ReadonlyArray<Outcome>) {
      const settings = yield* settingsStore.get
      const now = yield* Clock.currentTimeMillis
      const succeed: DeliveryEvent = { type: "SUCCEED", now }
      const transitions: Array<Transition> = []
      const plain = batch.filter((o) => Exit.isSuccess(o.exit) && o.exit.value.externalId === undefined)
      stepAll(plain.map((o) => ({ status: o.row.status, context: contextOf(o.row) })), succeed).forEach((s, i) => {
        const o = plain[i]!
        if (!(s instanceof IllegalTransition)) transitions.push(toTransition(o.row, s, now, config.owner, timingOf(o)))
      })
      for (const o of batch) {
        if (Exit.isSuccess(o.exit) && o.exit.value.externalId === undefined) continue
        const event: DeliveryEvent = Exit.isSuccess(o.exit)
          ? { type: "SUCCEED", now, externalId: o.exit.value.externalId }
          : yield* failEvent(retrySchedules, settings, o.row, o.exit, now)
        const s: Stepped | IllegalTransition = step(o.row.status, contextOf(o.row), event)
        if (!(s instanceof IllegalTransition)) transitions.push(toTransition(o.row, s, now, config.owner, timingOf(o)))
      }
      // The circuits count the outcomes in the same transaction: a crash loses neither.
      const written = yield* writer.transaction(Effect.flatMap(store.persist(transitions), (written) =>
        Effect.as(recordCircuits(settings, batch.filter((o) => written.has(o.row.id)).map(factOf), now), written)))
      const stale = transitions.filter((t) => !written.has(t.id))
      if (stale.length > 0) {
        yield* Effect.logWarning("stale outcomes ignored: their leases were rescued before the sink answered").pipe(
          Effect.annotateLogs({ deliveries: stale.map((t) => t.id).join(","), owner: config.owner })
        )
      }
      for (const o of batch) forget(o)
      yield* freed.notify
      const retries = transitions.filter((t) => t.status === "retry_wait" && written.has(t.id))
      if (retries.length === 0) return
      const sinkOf = new Map(batch.map((o) => [o.row.id, o.row.sink]))
      for (const t of retries) noteRetry(sinkOf.get(t.id)!, t.nextAttemptAt!)
      // A retry was scheduled: the claim loop may be idling until a later due time.
      yield* work.notify
      yield* skipIfRemoved(settings, retries.map((t) => sinkOf.get(t.id)!))
    })

    /**
     * Inside an outcome transaction: steps the sinks' circuits with these facts. A circuit that
     * opened stops the direct hand-off to its sink; one that closed wakes the claim loop, since
     * its held deliveries may go. (The bookkeeping runs before the commit; a rollback retries
     * the same facts, which lands the same circuits.)
     */
    const recordCircuits = (settings: Settings, facts: ReadonlyArray<CircuitFact>, now: number) =>
      Effect.flatMap(circuits.record(settings, facts, now), (after) => {
        let reopened = false
        for (const [sink, status] of after) {
          if (status !== "closed") caughtUp.delete(sink)
          if (holds.moved(sink, status)) reopened = true
        }
        return reopened ? work.notify : Effect.void
      })

    /**
     * A delivery left waiting for a sink the settings no longer have (its call failed as it was
     * removed) is set aside too. After the outcomes' commit, so a failure here is only logged:
     * the next settings change or start sweeps again.
     */
    const skipIfRemoved = (settings: Settings, sinkNames: ReadonlyArray<string>) =>
      sinkNames.some((name) => settings.sinks[name] === undefined)
        ? router.skipRemoved(settings).pipe(Effect.asVoid, Effect.catchAllCause((cause) => Effect.logError("skipping deliveries of a removed sink failed", cause)))
        : Effect.void

    /**
     * Gives leases back whose sink call never started (a graceful stop, a removed sink): each
     * delivery is pending again at the time it was due, with no attempt spent. Fenced like
     * every outcome: a lease rescued meanwhile is left alone.
     */
    const releaseLeases = Effect.fn("Dispatcher.releaseLeases")(function* (rows: ReadonlyArray<Claimed>) {
      const now = yield* Clock.currentTimeMillis
      const transitions: Array<Transition> = []
      for (const row of rows) {
        const s = step(row.status, contextOf(row), { type: "RELEASE", now, dueAt: row.dueAt })
        if (!(s instanceof IllegalTransition)) transitions.push(toTransition(row, s, now, config.owner))
      }
      const settings = yield* settingsStore.get
      const written = yield* writer.transaction(Effect.flatMap(store.persist(transitions), (written) =>
        Effect.as(recordCircuits(settings, rows.filter((r) => written.has(r.id)).map((r): CircuitFact => ({ _tag: "released", sink: r.sink, deliveryId: r.id })), now), written)))
      for (const row of rows) letGo(row)
      yield* freed.notify
      yield* work.notify
      yield* skipIfRemoved(settings, rows.map((r) => r.sink))
      return written.size
    }, (effect) => Effect.catchAllCause(effect, (cause) =>
      Effect.as(Effect.logError("leases could not be given back; they will expire and be rescued", cause), 0)))

    /** Persists outcomes, retried in place while the error may pass (the lock, I/O, a full disk). */
    const persistRetrying = (batch: ReadonlyArray<Outcome>) =>
      persistOutcomes(batch).pipe(
        Effect.tapError((e) => Effect.logError("persisting outcomes failed; retrying the same batch", e)),
        Effect.retry({ schedule: busyBackoff, while: isTransientStorageError })
      )

    /**
     * An outcome that cannot be written (a row SQLite refuses, a bug) is let go: it leaves the
     * in-flight set, so its lease is no longer renewed, expires, and is rescued like a crashed
     * worker's. Held, it would be renewed for ever.
     */
    const release = (o: Outcome, cause: Cause.Cause<unknown>) =>
      Effect.logError("an outcome could not be written; its lease will expire and be rescued", cause).pipe(
        Effect.annotateLogs({ delivery: o.row.id }),
        Effect.zipRight(Effect.sync(() => forget(o))),
        Effect.zipRight(freed.notify)
      )

    // A taken batch is persisted, retried in place while its error may pass. One that fails
    // otherwise is written outcome by outcome, so one bad row cannot hold the others back.
    // Only the wait for outcomes is interruptible. After the first outcome, one event-loop turn
    // lets the rest of its batch finish and join it.
    const persistLoop = Effect.uninterruptibleMask((restore) =>
      restore(Queue.take(outcomes)).pipe(
        Effect.zipLeft(nextTurn),
        Effect.flatMap((first) => Effect.map(Queue.takeUpTo(outcomes, 999), (rest) => [first, ...rest])),
        Effect.flatMap((batch) =>
          persistRetrying(batch).pipe(
            Effect.catchAllCause((cause) => {
              if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
              if (batch.length === 1) return release(batch[0]!, cause)
              return Effect.forEach(batch, (o) =>
                persistRetrying([o]).pipe(Effect.catchAllCause((c) => (Cause.isInterruptedOnly(c) ? Effect.failCause(c) : release(o, c)))),
                { discard: true })
            })
          )
        )
      ))

    /**
     * Takes claimed rows in hand: they count as in flight and their calls start. Callers run
     * it uninterruptibly right after the claim commits, so no lease is taken and left unused.
     */
    const adopt = (claimed: ReadonlyArray<Claimed>, settings: Settings) =>
      Effect.suspend(() => {
        if (claimed.length === 0) return Effect.void
        for (const row of claimed) hold(row)
        // One fiber per claimed batch, not per delivery; within it, calls run on a small pool.
        // Interruptible (unlike the hand-off): the watchdog and shutdown end calls that run too long.
        const batch = Effect.clockWith((clock) => runPooled(claimed, sinkConcurrency, (row) => callSink(row, settings, clock)))
        return Effect.asVoid(FiberSet.run(calls, Effect.interruptible(batch)))
      })

    /**
     * Direct hand-off. Of the deliveries an enqueue transaction is creating, those for a push
     * sink this dispatcher has caught up with (its last claim left nothing due behind) are
     * created already leased to this process: one write instead of an insert and a claim, and
     * no scan. The caller inserts `rows` and, once committed, passes `claimed` to `adopt`.
     * Pure bookkeeping: it writes nothing itself.
     */
    const leaseAtOnce = (
      planned: ReadonlyArray<NewDelivery>,
      notificationOf: (id: string) => NotificationRow,
      settings: Settings,
      now: number
    ): { readonly rows: ReadonlyArray<NewDelivery>; readonly claimed: ReadonlyArray<Claimed> } => {
      let room = config.background ? config.maxInFlight - inFlight.size : 0
      if (room <= 0 || caughtUp.size === 0) return { rows: planned, claimed: [] }
      const names = new Set(pushSinks(settings).filter((name) => isCaughtUp(name, now) && !holds.isHeld(name)))
      const sinkRoom = new Map<string, number>()
      const candidates: Array<ClaimRow> = []
      for (const d of planned) {
        if (d.status !== "pending" || !names.has(d.sink)) continue
        const left = sinkRoom.get(d.sink) ?? roomOf(settings, d.sink, now)
        if (room <= 0 || left <= 0) {
          caughtUp.delete(d.sink) // this one waits as pending: later ones must queue behind it
          names.delete(d.sink)
          continue
        }
        room--
        sinkRoom.set(d.sink, left - 1)
        const n = notificationOf(d.notificationId)
        candidates.push({
          id: d.id, notificationId: d.notificationId, sink: d.sink, status: "pending", attempts: 0,
          maxAttempts: d.maxAttempts, rescues: 0, nextAttemptAt: d.nextAttemptAt, leaseOwner: null,
          leaseExpiresAt: null, lastErrorCode: null, lastError: null, externalId: null, reason: null,
          version: 0, createdAt: d.createdAt, updatedAt: d.createdAt, kind: n.kind, priority: n.priority,
          title: n.title, body: n.body, payload: n.payload, projectId: n.projectId, sessionId: n.sessionId,
          notificationCreatedAt: n.createdAt
        })
      }
      if (candidates.length === 0) return { rows: planned, claimed: [] }
      // Spent now, though the enqueue may still roll back: a token lost errs on the side of the limit.
      for (const c of candidates) spendOn(c.sink, 1)
      const byId = new Map(candidates.map((c) => [c.id, c]))
      const claimed = new Map<string, Claimed>()
      for (const t of claimTransitions(candidates, config.owner, settings.leaseMs, now)) claimed.set(t.id, { ...rowAfter(byId.get(t.id)!, t), dueAt: now, heldBy: null })
      const rows = planned.map((d): NewDelivery => {
        const c = claimed.get(d.id)
        return c === undefined
          ? d
          : { ...d, status: "leased", nextAttemptAt: null, leaseOwner: c.leaseOwner, leaseExpiresAt: c.leaseExpiresAt, version: c.version }
      })
      return { rows, claimed: [...claimed.values()] }
    }

    /**
     * Sleeps until the earliest due time of the push sinks that have room (or until `wakeAt`, when
     * a rate-limited sink gets a token), or until new work is announced; with some sinks at their
     * concurrency, also until a call of theirs settles.
     */
    const idle = (names: ReadonlyArray<string>, seen: number, freedSeen: number, someFull: boolean, wakeAt: number) =>
      Effect.gen(function* () {
        const next = Math.min((yield* Effect.orDie(store.nextDueAt(names))) ?? Infinity, wakeAt)
        const now = yield* Clock.currentTimeMillis
        const wait = Duration.millis(next === Infinity ? 60_000 : Math.max(1, Math.min(60_000, next - now)))
        yield* someFull ? Effect.raceFirst(work.waitAfter(seen, wait), freed.waitAfter(freedSeen, wait)) : work.waitAfter(seen, wait)
      })

    const claimLoop = Effect.gen(function* () {
      const seen = yield* work.generation
      const freedSeen = yield* freed.generation
      const settings = yield* settingsStore.get
      const all = pushSinks(settings)
      const room = config.maxInFlight - inFlight.size
      if (all.length === 0) return yield* work.waitAfter(seen, "60 seconds")
      const now = yield* Clock.currentTimeMillis
      const names = all.filter((name) => roomOf(settings, name, now) > 0)
      const tokenAt = nextTokenOf(settings, all, now)
      if (room <= 0 || names.length === 0) {
        // Nothing may be taken in hand until a call settles or a token comes; a settings change (a higher limit) is work too.
        for (const name of all) caughtUp.delete(name)
        const wait = Duration.millis(Math.max(1, Math.min(1_000, tokenAt - now)))
        return yield* Effect.raceFirst(freed.waitAfter(freedSeen, wait), work.waitAfter(seen, wait))
      }
      for (const name of all) if (!names.includes(name)) caughtUp.delete(name)
      yield* nextTurn // let the enqueues already under way commit, so one claim takes them together
      // Uninterruptible from claim to hand-off: rows claimed at shutdown are delivered, not orphaned as leased.
      const claimed = yield* Effect.uninterruptible(Effect.tap(claimDue(settings, names, room), (rows) => adopt(rows, settings)))
      // A sink its circuit holds is not waited on (its deliveries are due but may not go): the loop wakes at the cooldown's end.
      const open = names.filter((name) => !holds.isHeld(name) || holds.gateOf(name) === "probe")
      if (claimed.length === 0) yield* idle(open, seen, freedSeen, open.length < all.length, Math.min(tokenAt, holds.probeAt()))
    })

    /** The shortest deadline any push sink's call can get: a call not yet started ends no earlier than now plus this. */
    const shortestCallTimeout = (settings: Settings) =>
      Math.min(settings.leaseMs / 2, ...pushSinks(settings).map((name) => callTimeoutMs(settings.sinks[name]!, settings.leaseMs)))

    /**
     * The watchdog: cuts short the calls past their deadline (their outcome is a retryable
     * timeout), and extends the leases of calls still running after a third of the lease.
     */
    const watchLoop = Effect.gen(function* () {
      const seen = yield* watchdog.generation
      const settings = yield* settingsStore.get
      const before = yield* Clock.currentTimeMillis
      // Leases taken under an earlier (shorter) leaseMs may expire sooner than a third of the current one.
      let wakeAt = before + Math.min(settings.leaseMs / 3, shortestCallTimeout(settings))
      for (const f of inFlight.values()) {
        if (f.fiber !== null) wakeAt = Math.min(wakeAt, f.deadline)
        if (f.row.leaseExpiresAt !== null) wakeAt = Math.min(wakeAt, before + (f.row.leaseExpiresAt - before) / 2)
      }
      watchdogWakesAt = wakeAt
      yield* watchdog.waitAfter(seen, Duration.millis(Math.max(1, wakeAt - before)))
      const now = yield* Clock.currentTimeMillis
      for (const f of inFlight.values()) {
        if (f.fiber !== null && f.deadline <= now && !f.timedOut) {
          f.timedOut = true
          f.fiber.unsafeInterruptAsFork(f.fiber.id())
        }
      }
      const expiring = [...inFlight.values()].filter((f) => (f.row.leaseExpiresAt ?? 0) - now < (settings.leaseMs * 2) / 3)
      if (expiring.length === 0) return
      const expiresAt = now + settings.leaseMs
      yield* writer.transaction(store.renewLeases(expiring.map((f) => f.row.id), config.owner, expiresAt))
      for (const f of expiring) f.row = { ...f.row, leaseExpiresAt: expiresAt }
    })

    if (config.background) {
      // Added before the loops are forked, so it runs after they are interrupted (finalizers run
      // in reverse): calls under way finish and their outcomes are written before the writer closes.
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          // Interruptible, or the timeout could not cut the wait short (finalizers are not).
          yield* FiberSet.awaitEmpty(calls).pipe(Effect.interruptible, Effect.timeoutOption("5 seconds"))
          // Calls still running after the grace period are interrupted; they record that as their outcome.
          yield* FiberSet.clear(calls)
          const rest = [...(yield* Queue.takeAll(outcomes))]
          // Claimed deliveries whose call never started (waiting for a pool slot) give their
          // lease back without an attempt: only a call that started and did not finish counts.
          // A started call records its own outcome when it is interrupted.
          const answered = new Set(rest.map((o) => o.row.id))
          const now = yield* Clock.currentTimeMillis
          const unstarted: Array<Claimed> = []
          for (const f of inFlight.values()) {
            if (answered.has(f.row.id)) continue
            if (f.started) rest.push({ row: f.row, startedAt: now, finishedAt: now, exit: Exit.fail(interruptedFailure) })
            else unstarted.push(f.row)
          }
          if (rest.length > 0) yield* persistOutcomes(rest).pipe(Effect.ignoreLogged)
          if (unstarted.length > 0) {
            const released = yield* releaseLeases(unstarted)
            yield* Effect.logInfo(`gave back ${released} lease(s) whose sink call had not started`)
          }
        })
      )
      yield* Effect.forkScoped(runForever(persistLoop, "persisting outcomes"))
      yield* Effect.forkScoped(runForever(claimLoop, "claiming"))
      yield* Effect.forkScoped(runForever(watchLoop, "watching sink calls"))
    }

    return {
      /** Tells the dispatcher that deliveries may be due now (after enqueue or requeue). */
      // Requeues, rescues, settings changes, pending rows and other processes' writes make deliveries due that the next
      // claim must take first: no direct hand-off for any sink until a claim finds it caught up.
      wake: Effect.zipRight(Effect.sync(() => caughtUp.clear()), work.notify),
      inFlight: Effect.sync(() => inFlight.size),
      claimDue,
      leaseAtOnce,
      adopt
    } as const
  })
}) {}

/**
 * The FAIL event for a sink's failure (a defect or interruption counts as retryable), with the
 * delay the sink's retry Schedule gives this attempt. A failure that cannot be retried anyway
 * (permanent, or the budget spent) does not step the Schedule.
 */
export const failEvent = (
  retries: RetrySchedules["Type"],
  settings: Settings,
  row: Pick<ClaimRow, "id" | "sink" | "attempts" | "maxAttempts">,
  exit: Exit.Exit<SinkReceipt, SinkFailure>,
  now: number
): Effect.Effect<DeliveryEvent> => {
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none<SinkFailure>()
  const f = Option.isSome(failure) ? failure.value : interruptedFailure
  const attempt = row.attempts + 1
  const delay = f.retryable && attempt < row.maxAttempts ? retries.delayOf(settings, row.sink, row.id, attempt, f) : Effect.succeed(null)
  return Effect.map(delay, (delayMs): DeliveryEvent => ({
    type: "FAIL",
    now,
    delayMs,
    retryable: f.retryable,
    code: f.code,
    message: f.message,
    retryAfterMs: f.retryAfterMs
  }))
}
