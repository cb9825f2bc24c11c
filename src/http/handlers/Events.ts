/** Handler of the change feed: resumes after Last-Event-ID (else ?after=, else now), optionally filtered by entity. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Stream } from "effect"
import { ChangeEvent } from "../../domain/ChangeEvent.js"
import { Herald } from "../../layers/Herald.js"
import { HeraldApi } from "../Api.js"
import { Draining } from "../Draining.js"
import { HttpOptions } from "../HttpOptions.js"
import { Metrics } from "../Metrics.js"
import { sseResponse } from "../Sse.js"

export const EventsLive = HttpApiBuilder.group(HeraldApi, "events", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    const context = yield* Effect.context<HttpOptions | Draining | Metrics>()
    return handlers.handle("events", ({ headers, request, urlParams }) =>
      Effect.gen(function* () {
        // A reconnecting EventSource sends Last-Event-ID; it wins over the ?after= of the original URL.
        const after = headers["last-event-id"] ?? urlParams.after ?? (yield* herald.latestSeq)
        const entities = urlParams.entity === undefined ? undefined : new Set<string>(urlParams.entity)
        const events = entities === undefined
          ? herald.subscribe(after)
          : Stream.filter(herald.subscribe(after), (e) => !(e instanceof ChangeEvent) || entities.has(e.entity))
        return yield* sseResponse(request, events)
      }).pipe(Effect.provide(context)))
  }))
