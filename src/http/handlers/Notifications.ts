/** Handlers of the notifications group: enqueue (with Idempotency-Key; 503 with Retry-After when overloaded), get, list. */
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { Herald } from "../../layers/Herald.js"
import { HeraldApi } from "../Api.js"
import { dedupeKeyOf, Idempotency } from "../Idempotency.js"
import { defined, storageAsDefect } from "./storage.js"

export const NotificationsLive = HttpApiBuilder.group(HeraldApi, "notifications", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    const idempotency = yield* Idempotency
    return handlers
      .handle("enqueue", ({ headers, payload }) =>
        Effect.gen(function* () {
          const key = headers["idempotency-key"]
          if (key === undefined) return yield* herald.enqueue(payload)
          const boundAt = yield* idempotency.bind(key, payload)
          return yield* herald.enqueue(payload.dedupeKey === undefined ? { ...payload, dedupeKey: dedupeKeyOf(key, boundAt) } : payload)
        }).pipe(
          storageAsDefect,
          // Overloaded is a 503 a client should retry: say when.
          Effect.tapErrorTag("Overloaded", (e) =>
            HttpApp.appendPreResponseHandler((_request, response) =>
              Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", String(e.retryAfterSeconds))))),
          Effect.map((r) => (r.created ? { created: true as const, notification: r.notification } : { created: false as const, notification: r.notification }))
        ))
      .handle("getNotification", ({ path }) => herald.getNotification(path.id).pipe(storageAsDefect))
      .handle("listNotifications", ({ urlParams: q }) =>
        herald.listNotifications(defined({
          kind: q.kind,
          priority: q.priority,
          projectId: q.project,
          sessionId: q.session,
          since: q.since,
          after: q.after,
          limit: q.limit
        })).pipe(storageAsDefect))
  }))
