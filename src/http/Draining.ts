/**
 * Shutdown state of the HTTP edge: once draining, new requests get 503, /readyz fails and SSE
 * streams end; in-flight requests and open streams are counted so shutdown can wait for them
 * (bounded) before it closes the connections.
 */
import { Deferred, Effect } from "effect"

export class Draining extends Effect.Service<Draining>()("herald/http/Draining", {
  effect: Effect.gen(function* () {
    const stop = yield* Deferred.make<void>()
    const idle = yield* Effect.makeLatch(true)
    let inFlight = 0
    const enter = Effect.sync(() => {
      if (inFlight++ === 0) idle.unsafeClose()
    })
    const leave = Effect.sync(() => {
      if (--inFlight === 0) idle.unsafeOpen()
    })
    return {
      isDraining: Deferred.isDone(stop),
      /** Completes when draining starts (SSE streams end on it). */
      stopped: Deferred.await(stop),
      start: Deferred.succeed(stop, undefined),
      /** Runs a request, counted as in flight. */
      track: <A, E, R>(request: Effect.Effect<A, E, R>) => Effect.acquireUseRelease(enter, () => request, () => leave),
      /** Counts a response body that outlives its handler (an SSE stream) as in flight until its scope closes. */
      hold: Effect.acquireRelease(enter, () => leave),
      /** Completes when no request is in flight. */
      idle: idle.await
    } as const
  })
}) {}
