/**
 * Group commit: callers submit items one at a time; a single fiber takes whatever is
 * queued (up to `maxBatch`) and runs them through `run` together, in one transaction.
 * Each caller gets its own item's result. A batch that has started always finishes
 * (uninterruptible), so shutdown flushes the writer; callers still queued then are interrupted.
 */
import { Chunk, Deferred, Effect, Exit, Queue } from "effect"

/** Resumes after Node's I/O callbacks of this turn have run (not a timer: the TestClock has no say). */
export const nextTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

export const makeBatcher = <I, O, E, R>(options: {
  readonly maxBatch: number
  /** One result per item, in order: an item's own failure does not fail the others. */
  readonly run: (items: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<Exit.Exit<O, E>>, E, R>
}) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<readonly [I, Deferred.Deferred<O, E>]>()
    // Only the wait for the first item is interruptible: once taken, an item is written and
    // its caller answered (an interruption in between would leave that caller waiting forever).
    const drain = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const first = yield* restore(Queue.take(queue))
        // One event-loop turn lets callers whose I/O is already in (HTTP requests) join this batch.
        yield* nextTurn
        const batch = [first, ...Chunk.toReadonlyArray(yield* Queue.takeUpTo(queue, options.maxBatch - 1))]
        const exit = yield* Effect.exit(options.run(batch.map(([item]) => item)))
        if (Exit.isFailure(exit)) {
          yield* Effect.forEach(batch, ([, d]) => Deferred.failCause(d, exit.cause), { discard: true })
        } else {
          yield* Effect.forEach(batch, ([, d], i) => Deferred.done(d, exit.value[i]!), { discard: true })
        }
      }))
    yield* Effect.addFinalizer(() =>
      Queue.takeAll(queue).pipe(
        Effect.flatMap((rest) => Effect.forEach(rest, ([, d]) => Deferred.interrupt(d), { discard: true })),
        Effect.zipRight(Queue.shutdown(queue))
      )
    )
    yield* Effect.forkScoped(Effect.forever(drain))
    return (item: I): Effect.Effect<O, E> =>
      Effect.flatMap(Deferred.make<O, E>(), (d) => Effect.zipRight(Queue.offer(queue, [item, d]), Deferred.await(d)))
  })
