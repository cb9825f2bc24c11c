/** Handler of the change feed: resumes after Last-Event-ID (else ?after=, else now), optionally filtered by entity. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Herald } from "../../layers/Herald.js"
import { HeraldApi } from "../Api.js"
import { Sse } from "../Sse.js"

export const EventsLive = HttpApiBuilder.group(HeraldApi, "events", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    const sse = yield* Sse
    return handlers.handle("events", ({ headers, request, urlParams }) =>
      Effect.gen(function* () {
        // A reconnecting EventSource sends Last-Event-ID; it wins over the ?after= of the original URL.
        const after = headers["last-event-id"] ?? urlParams.after ?? (yield* herald.latestSeq)
        const entities = urlParams.entity === undefined ? undefined : new Set<string>(urlParams.entity)
        return yield* sse.respond(request, after, entities)
      }))
  }))
