/**
 * The `webhook` sink: one signed POST per delivery, as Standard Webhooks (standardwebhooks.com)
 * describe them, so receivers can verify with any of its libraries:
 * - body: `{"type":"herald.delivery","timestamp":ISO,"data":{deliveryId, attempt, sink, notification}}`
 * - `webhook-id`: the delivery id, the same on every attempt (receivers dedupe on it; also sent as
 *   `idempotency-key`), `webhook-timestamp`: seconds since the epoch, and with a `secret`,
 *   `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
 * Any answer but a 2xx is retried with backoff (as Svix and Stripe do: a receiver's 4xx is often a
 * deploy away from fixed), except 410 Gone, which dead-letters at once.
 */
import { Clock, Effect } from "effect"
import { Webhook } from "standardwebhooks"
import { type Sink, type SinkDelivery, SinkFailure } from "../domain/Sink.js"
import { webhookKey } from "../domain/webhookSecret.js"
import type { HttpClients } from "./internal/httpClients.js"
import { post } from "./internal/httpPost.js"

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

export const makeWebhookSink = (clients: HttpClients): Sink => ({
  deliver: (config, d) =>
    Effect.gen(function* () {
      if (config.type !== "webhook") return yield* Effect.dieMessage(`the webhook sink was handed a ${config.type} sink`)
      const now = yield* Clock.currentTimeMillis
      const body = webhookBody(d)
      const timestamp = new Date(Math.floor(now / 1_000) * 1_000)
      const headers: Record<string, string> = {
        "user-agent": userAgent,
        "webhook-id": d.deliveryId,
        "webhook-timestamp": String(timestamp.getTime() / 1_000),
        "idempotency-key": d.idempotencyKey
      }
      if (config.secret !== undefined) {
        const s = signerOf(config.secret)
        if (s instanceof SinkFailure) return yield* s
        headers["webhook-signature"] = s.sign(d.deliveryId, timestamp, body)
      }
      return yield* post(clients, {
        url: config.url,
        headers,
        body,
        allowPrivateNetwork: config.allowPrivateNetwork,
        retryable: (answer) => answer.status !== 410
      })
    })
})
