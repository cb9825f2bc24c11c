/** Handlers of the deliveries group: list, get, requeue (one or many), cancel, and the pull-sink claim/ack/nack. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Herald } from "../../services/Herald.js"
import { HeraldApi } from "../Api.js"
import { defined, storageAsDefect } from "./storage.js"

export const DeliveriesLive = HttpApiBuilder.group(HeraldApi, "deliveries", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    return handlers
      .handle("listDeliveries", ({ urlParams: q }) =>
        herald.listDeliveries(defined({ status: q.status, sink: q.sink, notificationId: q.notification, after: q.after, limit: q.limit })).pipe(storageAsDefect))
      .handle("getDelivery", ({ path }) => herald.getDelivery(path.id).pipe(storageAsDefect))
      .handle("requeueMany", ({ payload }) =>
        herald.requeueMany("ids" in payload ? { ids: payload.ids } : defined(payload)).pipe(
          storageAsDefect,
          Effect.map((r) => ({ ...r, summary: `${r.requeued.length} of ${r.requested} requeued` }))
        ))
      .handle("requeue", ({ path }) => herald.requeue(path.id).pipe(storageAsDefect))
      .handle("cancel", ({ path, payload }) =>
        (payload?.reason === undefined ? herald.cancel(path.id) : herald.cancel(path.id, payload.reason)).pipe(storageAsDefect))
      .handle("claim", ({ path, payload }) =>
        herald.claim(defined({
          sink: path.sink,
          owner: payload.owner,
          limit: payload.limit,
          leaseMs: payload.leaseSeconds === undefined ? undefined : payload.leaseSeconds * 1_000
        })).pipe(storageAsDefect))
      .handle("ack", ({ path, payload }) => herald.ack(path.id, payload).pipe(storageAsDefect))
      .handle("nack", ({ path, payload }) =>
        herald.nack(path.id, defined({
          owner: payload.owner,
          version: payload.version,
          code: payload.code,
          message: payload.message,
          retryable: payload.retryable,
          retryAfterMs: payload.retryAfter === undefined ? undefined : Math.round(payload.retryAfter * 1_000)
        })).pipe(storageAsDefect))
  }))
