/**
 * The change feed as Server-Sent Events: `id:` is the change_log seq, `retry:` first, a
 * heartbeat comment on a timer. One subscription to the Broadcaster feeds every client while
 * any is connected: each change is encoded once into a shared ring, and each client is a
 * position in it with a bounded socket buffer. A client that falls behind the ring reads the
 * rest from the database; one whose socket takes nothing for `sseStallMs` is ended cleanly
 * and resumes from its Last-Event-ID. Streams end when the server starts draining.
 */
import { type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Cause, type Chunk, Clock, Duration, Effect, Fiber, Schedule, Stream } from "effect"
import { ChangeEvent, type Resync } from "../domain/ChangeEvent.js"
import { Herald } from "../services/Herald.js"
import { Broadcaster } from "../runtime/Broadcaster.js"
import { Draining } from "./Draining.js"
import { HttpOptions } from "./HttpOptions.js"
import type { FrameRing } from "./internal/FrameRing.js"
import type { ChangeFilter } from "./internal/ChangeFilter.js"
import { SseClient } from "./internal/SseClient.js"
import { cursorAfter, encodeFrame, opening } from "./internal/sseFrames.js"
import { SseHub } from "./internal/SseHub.js"
import { Metrics } from "./Metrics.js"

/** Bytes a client's stream buffers before the socket, and at most per push: with the socket's own buffer, about 200 KiB per client. */
const clientBuffer = 64 * 1024
const coalesce = Duration.millis(20)

export class Sse extends Effect.Service<Sse>()("herald/http/Sse", {
  scoped: Effect.gen(function* () {
    const options = yield* HttpOptions
    const draining = yield* Draining
    const metrics = yield* Metrics
    const broadcaster = yield* Broadcaster
    const herald = yield* Herald
    const scope = yield* Effect.scope
    const hub = new SseHub({ capacity: 4_096, maxBytes: 8 * 1024 * 1024, maxPush: clientBuffer, encode: encodeFrame })

    /**
     * Hands new frames to the followers at most once per `coalesce`: a write per client per
     * commit cost more than the rest of the fan-out together, and a feed a few ms late is still live.
     */
    const appended = yield* Effect.makeLatch(false)
    const handOut = Effect.gen(function* () {
      yield* appended.await
      appended.unsafeClose()
      hub.flushAll()
      yield* Effect.sleep(coalesce)
    })

    /** The one subscription that feeds `ring`; restarted with a new ring (its clients catch up) if it ever fails. */
    const feed = (first: FrameRing) =>
      Effect.gen(function* () {
        let ring = first
        for (;;) {
          const exit = yield* broadcaster.subscribe(ring.head).pipe(
            Stream.runForEachChunk((chunk) => Effect.sync(() => {
              hub.append(ring, chunk)
              appended.unsafeOpen()
            })),
            Effect.exit
          )
          if (exit._tag === "Failure" && Cause.isInterruptedOnly(exit.cause)) return
          yield* Effect.logError("the SSE feed stopped; restarting it", exit._tag === "Failure" ? exit.cause : "the hub shut down")
          yield* Effect.sleep("1 second")
          ring = hub.restart(yield* herald.latestSeq)
        }
      })
    /** The running feed; none while no client is connected. */
    let live: Fiber.RuntimeFiber<void> | undefined

    /** Waits until the client's socket takes more, or it closes. */
    const untilHungry = (client: SseClient) =>
      Effect.gen(function* () {
        while (client.state === "open" && !client.hungry) {
          client.signal.unsafeClose()
          if (client.state === "open" && !client.hungry) yield* client.signal.await
        }
      })

    /** Changes read from the database for this client alone (it is behind the ring), sent as its socket takes them. */
    const sendOwn = (client: SseClient, events: Chunk.Chunk<ChangeEvent | Resync>) =>
      Effect.gen(function* () {
        let parts: Array<Uint8Array> = []
        let size = 0
        for (const e of events) {
          const cursor = cursorAfter(e)
          if (cursor <= client.cursor) continue
          client.cursor = cursor
          if (e instanceof ChangeEvent && !client.accepts(e)) continue
          const frame = encodeFrame(e)
          parts.push(frame)
          size += frame.length
          if (size >= clientBuffer) {
            yield* untilHungry(client)
            client.push(Buffer.concat(parts, size))
            parts = []
            size = 0
          }
        }
        if (parts.length > 0) {
          yield* untilHungry(client)
          client.push(Buffer.concat(parts, size))
        }
      })

    /**
     * Reads from the database after the client's cursor until the ring holds the rest; then it
     * follows the ring. A cursor from the request goes through the database once first, which
     * says when it is older than what retention kept or past the newest change (a Resync).
     */
    const catchUp = (client: SseClient, fromRequest: boolean) => {
      let checked = !fromRequest
      const behind = () => client.state === "open" && client.position === undefined && !(checked && hub.tryFollow(client, true))
      return Effect.gen(function* () {
        while (behind()) {
          yield* broadcaster.history(client.cursor).pipe(
            Stream.chunks,
            Stream.runForEachWhile((chunk) => Effect.zipRight(sendOwn(client, chunk), Effect.sync(() => ((checked = true), behind()))))
          )
          checked = true
        }
      })
    }

    /** Removes a client that has gone; the last one out stops the live feed (the pump then reads no rows for it). */
    const leave = (client: SseClient) =>
      Effect.suspend(() => {
        hub.remove(client)
        if (client.state !== "closed") client.cut()
        if (hub.members.size > 0 || live === undefined) return Effect.void
        const fiber = live
        live = undefined
        hub.stop()
        return Fiber.interrupt(fiber)
      })

    /** A client's own fiber: counts it, holds shutdown until its stream ends, and catches it up whenever it falls behind the ring. */
    const drive = (client: SseClient) =>
      Effect.gen(function* () {
        yield* Effect.acquireRelease(metrics.sseOpened, () => metrics.sseClosed)
        // Shutdown waits for the stream to end (it ends on draining) and its last chunk to go out.
        yield* draining.hold
        if (yield* draining.isDraining) hub.end(client)
        else if (!hub.tryFollow(client, false)) yield* catchUp(client, true)
        const behind = () => client.state === "open" && client.position === undefined
        const gone = () => client.state === "closed"
        while (!gone()) {
          if (behind()) yield* catchUp(client, false)
          client.signal.unsafeClose()
          if (!gone() && !behind()) yield* client.signal.await
        }
      }).pipe(Effect.scoped, Effect.ensuring(leave(client)))

    /** An SSE response of every change after `after` (only those `filter` accepts, when given). */
    const respond = (request: HttpServerRequest.HttpServerRequest, after: number, filter?: ChangeFilter) =>
      Effect.gen(function* () {
        const response = NodeHttpServerRequest.toServerResponse(request)
        const newest = live === undefined ? yield* herald.latestSeq : 0
        const client = new SseClient(after, filter, () => response.destroy(), opening(options.sseRetryMs), clientBuffer)
        // However the connection goes (even before the body is piped), the client's driver sees it closed.
        response.once("close", () => client.readable.destroy())
        // A client in the hub without its driver would never leave it (and keep the feed running).
        // (Fibers forked here would inherit uninterruptibility: `restore` gives it back to them.)
        yield* Effect.uninterruptibleMask((restore) => Effect.gen(function* () {
          hub.add(client)
          if (live === undefined) live = yield* Effect.forkIn(restore(feed(hub.restart(newest))), scope)
          yield* Effect.forkIn(restore(drive(client)), scope)
        }))
        return HttpServerResponse.raw(client.readable, {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-store", "x-accel-buffering": "no", connection: "keep-alive" }
        })
      })

    yield* Effect.forkScoped(Effect.forever(handOut))
    yield* Effect.forkScoped(Effect.flatMap(draining.stopped, () => Effect.sync(() => hub.endAll())))
    yield* Effect.forkScoped(Effect.repeat(Effect.sync(() => hub.heartbeat()), Schedule.spaced(Duration.millis(options.sseHeartbeatMs))))
    const sweepEvery = Duration.millis(Math.max(10, Math.min(1_000, Math.floor(options.sseStallMs / 5))))
    yield* Effect.forkScoped(Effect.repeat(
      Effect.gen(function* () {
        const ended = hub.sweep(yield* Clock.currentTimeMillis, options.sseStallMs)
        for (const _ of ended) yield* metrics.sseDropped("slow_client")
      }),
      Schedule.spaced(sweepEvery)
    ))

    return { respond } as const
  })
}) {}
