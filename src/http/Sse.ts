/**
 * The change feed as Server-Sent Events: `id:` is the change_log seq, `retry:` first, a
 * heartbeat comment on a timer. Writes wait for the socket to drain (no unbounded buffer),
 * and a client whose socket buffer stays full for `sseStallMs` is disconnected: it resumes
 * from its Last-Event-ID. The stream ends when the server starts draining.
 */
import { type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Chunk, Duration, Effect, Schedule, Stream } from "effect"
import { ChangeEvent, type Resync } from "../domain/ChangeEvent.js"
import { Draining } from "./Draining.js"
import { HttpOptions } from "./HttpOptions.js"
import { Metrics } from "./Metrics.js"

const encoder = new TextEncoder()

const frame = (e: ChangeEvent | Resync): string =>
  e instanceof ChangeEvent
    ? `id: ${e.seq}\nevent: change\ndata: ${JSON.stringify(e)}\n\n`
    // The id moves the client's cursor to what retention kept, so a reconnect does not resync again.
    : `id: ${e.oldestAvailable - 1}\nevent: resync\ndata: ${JSON.stringify(e)}\n\n`

/** Destroys the socket once its buffer has stayed full for `stallMs`; resolves never otherwise. */
const watchStall = (request: HttpServerRequest.HttpServerRequest, stallMs: number, onStall: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const response = NodeHttpServerRequest.toServerResponse(request)
    let fullFor = 0
    const tick = Math.max(10, Math.min(1_000, Math.floor(stallMs / 5)))
    yield* Effect.repeat(
      Effect.suspend(() => {
        fullFor = response.writableNeedDrain ? fullFor + tick : 0
        if (fullFor < stallMs) return Effect.void
        response.destroy()
        return Effect.zipRight(onStall, Effect.interrupt)
      }),
      Schedule.spaced(Duration.millis(tick))
    )
  })

/** An SSE response of `events`. */
export const sseResponse = (request: HttpServerRequest.HttpServerRequest, events: Stream.Stream<ChangeEvent | Resync>) =>
  Effect.gen(function* () {
    const options = yield* HttpOptions
    const draining = yield* Draining
    const metrics = yield* Metrics
    const heartbeat = Stream.tick(Duration.millis(options.sseHeartbeatMs)).pipe(Stream.drop(1), Stream.as(": heartbeat\n\n"))
    const body = Stream.make(`retry: ${options.sseRetryMs}\n: connected\n\n`).pipe(
      Stream.concat(Stream.merge(Stream.map(events, frame), heartbeat, { haltStrategy: "left" })),
      Stream.interruptWhen(draining.stopped),
      Stream.mapChunks((chunk) => Chunk.of(encoder.encode(Chunk.join(chunk, "")))),
      (stream) =>
        Stream.unwrapScoped(Effect.gen(function* () {
          yield* Effect.acquireRelease(metrics.sseOpened, () => metrics.sseClosed)
          // Shutdown waits for the stream to end (it ends on draining) and its last chunk to go out.
          yield* draining.hold
          yield* Effect.forkScoped(watchStall(request, options.sseStallMs, metrics.sseDropped("slow_client")))
          return stream
        }))
    )
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-store", "x-accel-buffering": "no", connection: "keep-alive" }
    })
  })
