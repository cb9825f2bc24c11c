/**
 * The `webhook` sink: one signed POST per delivery, as Standard Webhooks (standardwebhooks.com)
 * describe them, so receivers can verify with any of its libraries:
 * - body: `{"type":"herald.delivery","timestamp":ISO,"data":{deliveryId, attempt, sink, notification}}`
 * - `webhook-id`: the delivery id, the same on every attempt (receivers dedupe on it; also sent as
 *   `idempotency-key`), `webhook-timestamp`: seconds since the epoch, and with a `secret`,
 *   `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
 * Any answer but a 2xx is retried with backoff (as Svix and Stripe do: a receiver's 4xx is often a
 * deploy away from fixed), except 410 Gone, which dead-letters at once. The POST itself is
 * internal/signedPost.ts's, shared with the `agent` sink.
 */
import { Effect } from "effect"
import type { Sink } from "../domain/Sink.js"
import type { HttpClients } from "./internal/httpClients.js"
import { postSigned } from "./internal/signedPost.js"

export { signerOf, userAgent, webhookBody } from "./internal/signedPost.js"

export const makeWebhookSink = (clients: HttpClients): Sink => ({
  deliver: (config, d) =>
    Effect.gen(function* () {
      if (config.type !== "webhook") return yield* Effect.dieMessage(`the webhook sink was handed a ${config.type} sink`)
      return yield* postSigned(clients, { url: config.url, secret: config.secret, allowPrivateNetwork: config.allowPrivateNetwork }, d)
    })
})
