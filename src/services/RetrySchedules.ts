/**
 * Each sink's retry Schedule, and the delay it gives attempt n of one delivery. The settings'
 * retry fields compile to a Schedule; an embedder may give a sink its own. The delivery machine
 * only applies the delay (with Retry-After and the attempt budget); this module decides it.
 */
import { Context, Duration, Effect, Layer, Random, Schedule, ScheduleDecision, ScheduleIntervals } from "effect"
import { retryOf, type RetrySettings, type Settings } from "../domain/Settings.js"
import { SinkFailure } from "../domain/Sink.js"
import { backoffFloorMs } from "../machines/delivery.js"

/**
 * A sink's retry policy: stepped once per failed attempt with that attempt's failure; its delay
 * is the wait before the next attempt, and a Schedule that ends means no more retries.
 */
export type RetrySchedule = Schedule.Schedule<unknown, SinkFailure>

/** What an expired lease feeds a retry Schedule: it counts as a retryable failure. */
export const leaseExpiredFailure = new SinkFailure({
  retryable: true,
  code: "lease_expired",
  message: "the lease expired before an outcome was recorded"
})

/**
 * The settings' retry fields as a Schedule: exponential from baseMs by factor, capped at capMs,
 * full jitter (uniform in [0, delay], floored at min(baseMs, 1 s) so a retry is never
 * immediate), and maxAttempts - 1 retries. Its jitter comes from the Random in scope.
 */
export const retrySchedule = (retry: Omit<RetrySettings, "maxRescues">): RetrySchedule => {
  const floor = backoffFloorMs(retry)
  return Schedule.exponential(Duration.millis(retry.baseMs), retry.factor).pipe(
    Schedule.modifyDelayEffect((_, delay) =>
      Effect.map(Random.next, (j) => Duration.millis(Math.max(floor, Math.floor(j * Math.min(retry.capMs, Duration.toMillis(delay))))))
    ),
    Schedule.intersect(Schedule.recurs(retry.maxAttempts - 1))
  )
}

/**
 * The delay the Schedule gives before the attempt after `attempt` (>= 1), or null once it has
 * ended: `attempt` steps from a fresh start, each fed this failure (the earlier ones are not
 * kept), in the Schedule's own time, so it neither sleeps nor reads the clock. Its Random is
 * seeded with `seed`, so one delivery's plan is the same wherever and whenever it is read.
 */
export const delayOfAttempt = (schedule: RetrySchedule, attempt: number, failure: SinkFailure, seed: string): Effect.Effect<number | null> =>
  Effect.withRandom(
    Effect.suspend(() => {
      const loop = (n: number, now: number, state: unknown): Effect.Effect<number | null> =>
        Effect.flatMap(schedule.step(now, failure, state), ([next, _out, decision]) => {
          if (ScheduleDecision.isDone(decision)) return Effect.succeed(null)
          const at = ScheduleIntervals.start(decision.intervals)
          return n === attempt ? Effect.succeed(Math.max(0, at - now)) : loop(n + 1, at, next)
        })
      return loop(1, 0, schedule.initial)
    }),
    Random.make(seed)
  )

const make = (own: Readonly<Record<string, RetrySchedule>>) => {
  // Settings are replaced whole (never mutated), so a compiled Schedule is kept per document and sink.
  const compiled = new WeakMap<Settings, Map<string, RetrySchedule>>()
  const scheduleOf = (settings: Settings, sink: string): RetrySchedule => {
    const given = own[sink]
    if (given !== undefined) return given
    let bySink = compiled.get(settings)
    if (bySink === undefined) compiled.set(settings, bySink = new Map())
    let s = bySink.get(sink)
    if (s === undefined) bySink.set(sink, s = retrySchedule(retryOf(settings, sink)))
    return s
  }
  return {
    /**
     * The wait after a delivery's failed attempt `attempt`, or null when the sink's Schedule has
     * ended. Untraced: failures can come by the thousand a second and each is one short loop.
     */
    delayOf: Effect.fnUntraced(function* (settings: Settings, sink: string, deliveryId: string, attempt: number, failure: SinkFailure) {
      return yield* delayOfAttempt(scheduleOf(settings, sink), attempt, failure, deliveryId)
    }),
    /** The poison-message limit in force for the sink (its own `retry.maxRescues` or the global one). */
    maxRescuesOf: (settings: Settings, sink: string): number => retryOf(settings, sink).maxRescues
  } as const
}

export class RetrySchedules extends Context.Tag("herald/RetrySchedules")<RetrySchedules, ReturnType<typeof make>>() {
  /** `own`: an embedder's Schedule per sink name, in place of the one the settings compile to. */
  static readonly layer = (own: Readonly<Record<string, RetrySchedule>> = {}) => Layer.sync(RetrySchedules, () => make(own))
}
