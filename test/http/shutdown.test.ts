import { NodeContext } from "@effect/platform-node"
import { expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { eventually, openSse, TestServer, testServer } from "./support.js"

it.live("closing the layer ends SSE streams cleanly (their last chunk written), refuses new work, then stops the runtime", () =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(testServer({ shutdownGraceMs: 2_000 }), scope)
    const server = yield* Effect.provide(TestServer, context)
    const sse = yield* openSse("/v1/events").pipe(Effect.provide(context))
    expect(sse.status).toBe(200)
    const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
    // The open stream ends on its own (no client abort), and the close completes.
    yield* eventually(Effect.sync(() => sse.ended()), (ended) => ended)
    expect(sse.endedCleanly()).toBe(true)
    yield* closing.await
    const refused = yield* Effect.either(Effect.tryPromise(() => fetch(`${server.url}/healthz`)))
    expect(refused._tag).toBe("Left")
  }).pipe(Effect.provide(NodeContext.layer)))
