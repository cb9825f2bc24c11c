/**
 * Handler of the change feed, optionally filtered by entity, project and session. It starts after Last-Event-ID (a
 * reconnecting EventSource: the newest the client has seen on this connection), else after the
 * durable consumer's committed offset, else ?after= (where a consumer with no offset starts),
 * else the newest change.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Herald } from "../../services/Herald.js"
import { HeraldApi } from "../Api.js"
import { ChangeFilter } from "../internal/ChangeFilter.js"
import { Sse } from "../Sse.js"
import { storageAsDefect } from "./storage.js"

export const EventsLive = HttpApiBuilder.group(HeraldApi, "events", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    const sse = yield* Sse
    return handlers.handle("events", ({ headers, request, urlParams }) =>
      Effect.gen(function* () {
        const committed = urlParams.consumer === undefined || headers["last-event-id"] !== undefined
          ? undefined
          : yield* herald.getConsumer(urlParams.consumer).pipe(
            Effect.map((c) => c.seq),
            Effect.catchTag("ConsumerNotFound", () => Effect.succeed(undefined)),
            storageAsDefect
          )
        const after = headers["last-event-id"] ?? committed ?? urlParams.after ?? (yield* herald.latestSeq)
        const filter = ChangeFilter.of({
          entities: urlParams.entity === undefined ? undefined : new Set<string>(urlParams.entity),
          project: urlParams.project,
          session: urlParams.session
        })
        return yield* sse.respond(request, after, filter)
      }))
  }))
