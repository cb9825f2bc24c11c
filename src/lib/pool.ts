/**
 * Runs one call per item with at most `concurrency` under way, on a few worker fibers
 * rather than one fiber per call (a fiber per call costs more than a fast sink's call).
 * A worker may be interrupted to end a call that overran its deadline: the call records
 * its own outcome, the worker stops, and the next round starts fresh workers for what is left.
 */
import { Effect, Fiber } from "effect"

export const runPooled = <I, R>(
  items: ReadonlyArray<I>,
  concurrency: number,
  call: (item: I) => Effect.Effect<void, never, R>
): Effect.Effect<void, never, R> =>
  Effect.suspend(() => {
    let next = 0
    const more = () => next < items.length
    const worker = Effect.whileLoop({ while: more, body: () => call(items[next++]!), step: () => {} })
    const round = Effect.suspend(() =>
      Effect.forEach(Array.from({ length: Math.min(concurrency, items.length - next) }), () => Effect.fork(worker)).pipe(
        Effect.flatMap((workers) => Effect.forEach(workers, Fiber.await, { discard: true }))
      ))
    return Effect.whileLoop({ while: more, body: () => round, step: () => {} })
  })
