/** How the runtime's background loops run: forever, and after a storage error they back off and go on. */
import { Effect, Schedule } from "effect"

/** After a storage error a loop backs off (jittered, at most 5 s apart) and tries again. */
export const busyBackoff = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("5 seconds"))
)

/** Runs one iteration of `loop` after another; a failed iteration is logged, backed off and retried. */
export const runForever = <A, E, R>(loop: Effect.Effect<A, E, R>, what: string) =>
  loop.pipe(
    Effect.tapError((e) => Effect.logError(`${what} failed; retrying`, e)),
    Effect.retry({ schedule: busyBackoff }),
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
