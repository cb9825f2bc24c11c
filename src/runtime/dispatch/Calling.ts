/**
 * Calling: each claimed batch runs on one fiber, its calls on a small pool; every call's
 * outcome (its answer, a timeout, a defect, an interruption) is queued for completing. A call
 * whose sink was removed after the claim never starts: its lease is given back.
 */
import { Clock, Effect, Exit, FiberSet, Queue } from "effect"
import type { Settings } from "../../domain/Settings.js"
import type { SinkFailure, SinkReceipt } from "../../domain/Sink.js"
import { runPooled } from "../../lib/pool.js"
import { callTimeoutMs } from "../internal/callTimeout.js"
import { Sinks } from "../Sinks.js"
import { type Claimed, outcomeOf, sinkConcurrency, toSinkDelivery } from "./outcomes.js"
import type { DispatchState } from "./state.js"

export const makeCalling = (state: DispatchState, releaseLeases: (rows: ReadonlyArray<Claimed>) => Effect.Effect<number>) =>
  Effect.gen(function* () {
    const sinks = yield* Sinks
    const { outcomes, calls, inFlight, hold, watchdog, watch } = state

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
            if (entry.deadline < watch.wakesAt) early = watchdog.notify
          }
          // suspend: a sink (an embedder's own) that throws while building its effect fails this call only.
          return Effect.zipRight(early, Effect.flatMap(Effect.exit(restore(Effect.suspend(() => impl.deliver(sinkConfig, toSinkDelivery(row))))), (exit) => {
            if (entry !== undefined) entry.fiber = null
            // An answer that arrived as the deadline passed still counts as the answer.
            return record(outcomeOf(exit, entry?.timedOut === true && Exit.isFailure(exit)))
          }))
        }))

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

    return { adopt } as const
  })
