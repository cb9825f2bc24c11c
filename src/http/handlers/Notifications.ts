/**
 * Handlers of the notifications group: enqueue and batch enqueue (with Idempotency-Key; 503
 * with Retry-After when overloaded), get, list.
 */
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { Overloaded } from "../../domain/errors.js"
import { fastNotificationInput } from "../../domain/fastNotificationInput.js"
import type { BatchItemResult } from "../../domain/Notification.js"
import { Herald } from "../../services/Herald.js"
import { HeraldApi } from "../Api.js"
import { dedupeKeyOf, Idempotency, withBatchDedupeKeys } from "../Idempotency.js"
import { defined, storageAsDefect } from "./storage.js"

/** Overloaded is a 503 a client should retry: say when. */
const retryAfterWhenOverloaded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.tapError(effect, (e) =>
    e instanceof Overloaded
      ? HttpApp.appendPreResponseHandler((_request, response) =>
        Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", String(e.retryAfterSeconds))))
      : Effect.void)

const batchResult = (r: BatchItemResult) =>
  r._tag === "Rejected"
    ? { index: r.index, status: 400 as const, problem: r.error }
    : r.created
      ? { index: r.index, status: 201 as const, notification: r.notification }
      : { index: r.index, status: 200 as const, notification: r.notification }

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
          retryAfterWhenOverloaded,
          Effect.map((r) => (r.created ? { created: true as const, notification: r.notification } : { created: false as const, notification: r.notification }))
        ))
      .handle("enqueueBatch", ({ headers, payload }) =>
        Effect.gen(function* () {
          const key = headers["idempotency-key"]
          if (key === undefined) return { results: (yield* herald.enqueueBatch(payload.notifications)).map(batchResult) }
          // Hashed with defaults filled in, as a single enqueue's decoded body is: an item that
          // spells out `priority: "normal"` is the same request as one that leaves it out.
          const boundAt = yield* idempotency.bind(key, { notifications: payload.notifications.map((i) => fastNotificationInput(i) ?? i) })
          const items = withBatchDedupeKeys(payload.notifications, key, boundAt)
          return { results: (yield* herald.enqueueBatch(items)).map(batchResult) }
        }).pipe(storageAsDefect, retryAfterWhenOverloaded))
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
