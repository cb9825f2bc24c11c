/**
 * Group commit: callers submit items one at a time; one drain at a time takes whatever is
 * waiting (up to `maxBatch`) and runs them through `run` together, in one transaction.
 * Each caller gets its own item's result. Callers wait as plain callbacks in an array, not
 * as a Deferred and a queue entry each: that costs a quarter as much per caller, which
 * matters when every HTTP request is one. A batch that has started always finishes, so
 * closing the scope flushes it; callers still waiting then are interrupted.
 */
import { Effect, Exit, Fiber, Runtime } from "effect"

/** Resumes after Node's I/O callbacks of this turn have run (not a timer: the TestClock has no say). */
export const nextTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

interface Waiting<I, O, E> {
  readonly item: I
  readonly resume: (result: Effect.Effect<O, E>) => void
}

export const makeBatcher = <I, O, E, R>(options: {
  readonly maxBatch: number
  /** One result per item, in order: an item's own failure does not fail the others. */
  readonly run: (items: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<Exit.Exit<O, E>>, E, R>
}) =>
  Effect.gen(function* () {
    const runFork = Runtime.runFork(yield* Effect.runtime<R>())
    let waiting: Array<Waiting<I, O, E>> = []
    let drain: Fiber.RuntimeFiber<void> | null = null
    let closed = false

    const runBatch = (batch: ReadonlyArray<Waiting<I, O, E>>) =>
      // suspend: a `run` that throws while building its effect fails this batch, not the drain.
      Effect.exit(Effect.suspend(() => options.run(batch.map((w) => w.item)))).pipe(
        Effect.map((exit) =>
          batch.forEach((w, i) => w.resume(Exit.isFailure(exit) ? Exit.failCause(exit.cause) : exit.value[i]!))
        )
      )

    // Batches run one after another until nobody waits; what arrives meanwhile forms the next one.
    const drainAll: Effect.Effect<void, never, R> = Effect.suspend(() => {
      if (waiting.length === 0) {
        drain = null
        return Effect.void
      }
      const batch = waiting.slice(0, options.maxBatch)
      waiting = waiting.slice(batch.length)
      return Effect.zipRight(runBatch(batch), drainAll)
    })

    const start = () => {
      if (drain !== null || closed) return
      // One event-loop turn first lets callers whose I/O is already in (HTTP requests) join.
      drain = runFork(Effect.zipRight(nextTurn, Effect.uninterruptible(drainAll)))
    }

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closed = true
        const running: Fiber.RuntimeFiber<void> | null = drain
        if (running !== null) yield* Fiber.await(running)
        const rest = waiting
        waiting = []
        for (const w of rest) w.resume(Effect.interrupt)
      })
    )

    return (item: I): Effect.Effect<O, E> =>
      Effect.async<O, E>((resume) => {
        if (closed) return resume(Effect.interrupt)
        const entry: Waiting<I, O, E> = { item, resume }
        waiting.push(entry)
        start()
        // Interrupted while still waiting: leave the queue (once taken, the item is written anyway).
        return Effect.sync(() => {
          const i = waiting.indexOf(entry)
          if (i >= 0) waiting.splice(i, 1)
        })
      })
  })
