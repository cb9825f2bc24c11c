/**
 * The dispatcher: claims due deliveries of the push sinks in batches with a lease, hands them to their
 * sinks with bounded concurrency, and persists the outcomes in batches (group commit).
 * Claim, delivery and persistence run as a pipeline. Leases of slow sink calls are renewed;
 * every sink call has a deadline well below the lease, kept by one watchdog fiber (a timer
 * per call would cost more than a fast sink's call). Rescue of expired leases is the Supervisor's.
 *
 * Its parts are in dispatch/: Claiming, Calling, Completing, Renewing (the watchdog) and the
 * HandOff, over one shared DispatchState. This file wires them and runs the graceful stop.
 */
import { Clock, Effect, Exit, FiberSet, Queue } from "effect"
import { runForever } from "../lib/loops.js"
import { makeCalling } from "./dispatch/Calling.js"
import { makeClaiming } from "./dispatch/Claiming.js"
import { makeCompleting } from "./dispatch/Completing.js"
import { makeHandOff } from "./dispatch/HandOff.js"
import { type Claimed, interruptedFailure } from "./dispatch/outcomes.js"
import { makeRenewing } from "./dispatch/Renewing.js"
import { makeDispatchState } from "./dispatch/state.js"
import { RuntimeConfig } from "./RuntimeConfig.js"

export { type Claimed, claimTransitions, failEvent } from "./dispatch/outcomes.js"

export class Dispatcher extends Effect.Service<Dispatcher>()("herald/Dispatcher", {
  scoped: Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const state = yield* makeDispatchState
    const { work, calls, outcomes, inFlight, caughtUp } = state
    const { persistOutcomes, persistLoop, releaseLeases } = yield* makeCompleting(state)
    const { adopt } = yield* makeCalling(state, releaseLeases)
    const { claimDue, claimLoop } = yield* makeClaiming(state, adopt)
    const { leaseAtOnce } = yield* makeHandOff(state)
    const { watchLoop } = yield* makeRenewing(state)

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
