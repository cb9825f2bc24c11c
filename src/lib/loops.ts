/** How the runtime's background loops run: forever, and after a storage error they back off and go on. */
import { Cause, Effect, Schedule } from "effect"

/** After a storage error a loop backs off (jittered, at most 5 s apart) and tries again. */
export const busyBackoff = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("5 seconds"))
)

/**
 * Runs one iteration of `loop` after another. A failed iteration, whether a typed error or a
 * defect (a storage error some read turned into one), is logged, backed off and retried: one
 * bad iteration must not end a loop the runtime depends on. Only interruption ends it.
 */
export const runForever = <A, E, R>(loop: Effect.Effect<A, E, R>, what: string) =>
  loop.pipe(
    Effect.sandbox,
    Effect.tapError((cause) => Effect.logError(`${what} failed; retrying`, cause)),
    Effect.retry({ schedule: busyBackoff, while: (cause) => !Cause.isInterruptedOnly(cause) }),
    Effect.unsandbox,
    Effect.forever
  )

/**
 * Repeats `step` (one short write transaction that deletes at most `batch` rows and says how
 * many) until a step deletes fewer: a long cleanup never holds the writer for long. Returns the total.
 */
export const inBatches = <E, R>(batch: number, step: Effect.Effect<number, E, R>) =>
  Effect.gen(function* () {
    let total = 0
    for (;;) {
      const n = yield* step
      total += n
      if (n < batch) return total
    }
  })
