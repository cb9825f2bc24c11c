/**
 * Completing: finished calls are persisted in batches (group commit), each outcome fenced by
 * its lease, with its attempt row and its circuit step in the same transaction; leases whose
 * call never started are given back without an attempt. A batch that cannot be written is
 * retried while its error may pass, else written outcome by outcome.
 */
import { Cause, Clock, Effect, Exit, Queue } from "effect"
import { IllegalTransition } from "../../domain/errors.js"
import type { Settings } from "../../domain/Settings.js"
import { nextTurn } from "../../lib/Batcher.js"
import { busyBackoff } from "../../lib/loops.js"
import { type DeliveryEvent, step, stepAll, type Stepped } from "../../machines/delivery.js"
import { DeliveryStore, type Transition } from "../../store/DeliveryStore.js"
import { SettingsStore } from "../../store/SettingsStore.js"
import { isTransientStorageError, Writer } from "../../store/Writer.js"
import { type CircuitFact, Circuits } from "../Circuits.js"
import { contextOf, toTransition } from "../internal/transitions.js"
import { RetrySchedules } from "../RetrySchedules.js"
import { Router } from "../Router.js"
import { RuntimeConfig } from "../RuntimeConfig.js"
import { type Claimed, factOf, failEvent, type Outcome, timingOf } from "./outcomes.js"
import type { DispatchState } from "./state.js"

export const makeCompleting = (state: DispatchState) =>
  Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const writer = yield* Writer
    const store = yield* DeliveryStore
    const settingsStore = yield* SettingsStore
    const circuits = yield* Circuits
    const retrySchedules = yield* RetrySchedules
    const router = yield* Router
    const { work, freed, outcomes, letGo, caughtUp, noteRetry, holds } = state

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

    return { persistOutcomes, persistLoop, releaseLeases } as const
  })
