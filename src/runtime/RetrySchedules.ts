/**
 * Each sink's retry Schedule, and the delay it gives attempt n of one delivery. The settings'
 * retry fields compile to a Schedule; an embedder may give a sink its own. The delivery machine
 * only applies the delay (with Retry-After and the attempt budget); this module decides it.
 */
import { Context, Duration, Effect, Hash, Layer, Random, Schedule, ScheduleDecision, ScheduleIntervals } from "effect"
import { PCGRandom } from "effect/Utils"
import { retryOf, type RetrySettings, type Settings } from "../domain/Settings.js"
import { SinkFailure } from "../domain/Sink.js"
import { backoffFloorMs, backoffMs } from "../machines/delivery.js"

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

/**
 * The `attempt`-th draw (>= 1) of `Random.make(seed)`: the jitter that `retrySchedule` draws for
 * that attempt when `delayOfAttempt` runs it with this seed. Plain arithmetic, no Effect.
 */
export const jitterOf = (seed: string, attempt: number): number => {
  const prng = new PCGRandom(Hash.hash(seed))
  let jitter = 0
  for (let i = 0; i < attempt; i++) jitter = prng.number()
  return jitter
}

/**
 * What `delayOfAttempt(retrySchedule(retry), attempt, _, seed)` gives, in closed form (the
 * property test holds them equal for all inputs). Stepping a Schedule costs a few microseconds
 * per step and attempt n takes n steps; this costs n draws of a PRNG, so a delivery with a
 * budget of 1,000 attempts costs no more to fail than one with 5.
 */
export const settingsDelayOf = (retry: Omit<RetrySettings, "maxRescues">, attempt: number, seed: string): number | null =>
  attempt >= retry.maxAttempts ? null : backoffMs(retry, attempt, jitterOf(seed, attempt))

const make = (own: Readonly<Record<string, RetrySchedule>>) => {
  // Settings are replaced whole (never mutated), so a sink's policy is merged once per document.
  const merged = new WeakMap<Settings, Map<string, RetrySettings>>()
  const policyOf = (settings: Settings, sink: string): RetrySettings => {
    let bySink = merged.get(settings)
    if (bySink === undefined) merged.set(settings, bySink = new Map())
    let r = bySink.get(sink)
    if (r === undefined) bySink.set(sink, r = retryOf(settings, sink))
    return r
  }
  return {
    /**
     * The wait after a delivery's failed attempt `attempt`, or null when the sink's Schedule has
     * ended: an embedder's Schedule is stepped, the settings' one read in closed form. Untraced:
     * failures can come by the thousand a second.
     */
    delayOf: (settings: Settings, sink: string, deliveryId: string, attempt: number, failure: SinkFailure): Effect.Effect<number | null> => {
      const given = own[sink]
      return given !== undefined
        ? delayOfAttempt(given, attempt, failure, deliveryId)
        : Effect.succeed(settingsDelayOf(policyOf(settings, sink), attempt, deliveryId))
    },
    /** The poison-message limit in force for the sink (its own `retry.maxRescues` or the global one). */
    maxRescuesOf: (settings: Settings, sink: string): number => policyOf(settings, sink).maxRescues
  } as const
}

export class RetrySchedules extends Context.Tag("herald/RetrySchedules")<RetrySchedules, ReturnType<typeof make>>() {
  /** `own`: an embedder's Schedule per sink name, in place of the one the settings compile to. */
  static readonly layer = (own: Readonly<Record<string, RetrySchedule>> = {}) => Layer.sync(RetrySchedules, () => make(own))
}
