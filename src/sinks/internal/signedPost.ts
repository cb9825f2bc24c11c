/**
 * The signed POST that the `webhook` and `agent` sinks share: the Standard Webhooks body and
 * headers of one delivery, signed with the sink's secret if it has one. Where it goes is the sink's.
 */
import { Clock, Effect } from "effect"
import { Webhook } from "standardwebhooks"
import { type SinkDelivery, SinkFailure } from "../../domain/Sink.js"
import { webhookKey } from "../../domain/webhookSecret.js"
import type { HttpClients } from "./httpClients.js"
import { post } from "./httpPost.js"

export const userAgent = "Herald/0.1 (+notifications)"

/** The signer of a secret, or a permanent failure for a malformed one (a stored document may hold one). */
export const signerOf = (secret: string): Webhook | SinkFailure => {
  const key = webhookKey(secret)
  if (typeof key === "string") return new SinkFailure({ retryable: false, code: "invalid_secret", message: `the sink's secret is unusable: ${key}` })
  return new Webhook(key as unknown as string, { format: "raw" })
}

export const webhookBody = (d: SinkDelivery) =>
  JSON.stringify({
    type: "herald.delivery",
    // The event's time (Standard Webhooks' payload timestamp), the same on every attempt.
    timestamp: new Date(d.notification.createdAt).toISOString(),
    data: { deliveryId: d.deliveryId, attempt: d.attempt, sink: d.sink, notification: d.notification }
  })

export interface SignedPostOptions {
  readonly url: string
  readonly secret: string | undefined
  readonly allowPrivateNetwork: boolean
}

/** Posts `d` to `options.url`; any answer but a 2xx is retried, except 410 Gone (the receiver says it is gone for good). */
export const postSigned = (clients: HttpClients, options: SignedPostOptions, d: SinkDelivery) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const body = webhookBody(d)
    const timestamp = new Date(Math.floor(now / 1_000) * 1_000)
    const headers: Record<string, string> = {
      "user-agent": userAgent,
      "webhook-id": d.deliveryId,
      "webhook-timestamp": String(timestamp.getTime() / 1_000),
      "idempotency-key": d.idempotencyKey
    }
    if (options.secret !== undefined) {
      const s = signerOf(options.secret)
      if (s instanceof SinkFailure) return yield* s
      headers["webhook-signature"] = s.sign(d.deliveryId, timestamp, body)
    }
    return yield* post(clients, {
      url: options.url,
      headers,
      body,
      allowPrivateNetwork: options.allowPrivateNetwork,
      retryable: (answer) => answer.status !== 410
    })
  })
