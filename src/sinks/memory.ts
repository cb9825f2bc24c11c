/**
 * The `memory` sink: deliveries handed to the embedding program in-process. It keeps what
 * it received, and the program decides each outcome with `setHandler` (default: accept).
 */
import { Effect, Ref } from "effect"
import type { Sink, SinkDelivery, SinkReceipt } from "../domain/Sink.js"
import type { SinkFailure } from "../domain/Sink.js"

export type MemoryHandler = (delivery: SinkDelivery) => Effect.Effect<SinkReceipt, SinkFailure>

export class MemorySink extends Effect.Service<MemorySink>()("herald/MemorySink", {
  effect: Effect.gen(function* () {
    const received: Array<SinkDelivery> = []
    const handler = yield* Ref.make<MemoryHandler>(() => Effect.succeed({}))
    const keep = yield* Ref.make(true)
    const sink: Sink = {
      deliver: (_config, delivery) =>
        Effect.flatMap(Ref.get(handler), (h) =>
          h(delivery).pipe(
            Effect.tap(() => Effect.flatMap(Ref.get(keep), (k) => Effect.sync(() => { if (k) received.push(delivery) })))
          ))
    }
    return {
      sink,
      /** Every delivery the sink accepted, in order (including repeats: delivery is at-least-once). */
      received: Effect.sync(() => received.slice()),
      count: Effect.sync(() => received.length),
      clear: Effect.sync(() => { received.length = 0 }),
      /** Decide outcomes: succeed, or fail with a SinkFailure. */
      setHandler: (h: MemoryHandler) => Ref.set(handler, h),
      /** Stop keeping deliveries in memory (benchmarks, long-running embedders). */
      keepReceived: (k: boolean) => Ref.set(keep, k)
    } as const
  })
}) {}
