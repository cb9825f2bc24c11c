/** The GitHub intake's expected failures: what the webhook endpoint answers GitHub and the operator. */
import { Schema } from "effect"

/** No webhook secret in the settings: without it no delivery can be told from a forgery. */
export class GithubIntakeNotConfigured extends Schema.TaggedError<GithubIntakeNotConfigured>()("GithubIntakeNotConfigured", {}) {
  override get message() {
    return "the GitHub intake is not configured: set integrations.github.secret in the settings (PUT /v1/settings) to the secret of the repository's webhook"
  }
}

/**
 * X-Hub-Signature-256 is missing, malformed, or not the body's HMAC under the configured
 * secret: the delivery is not (provably) GitHub's and nothing of it is kept.
 */
export class GithubSignatureInvalid extends Schema.TaggedError<GithubSignatureInvalid>()("GithubSignatureInvalid", {
  deliveryId: Schema.String,
  signatureSent: Schema.Boolean
}) {
  override get message() {
    return this.signatureSent
      ? `GitHub delivery ${this.deliveryId}: X-Hub-Signature-256 does not match the body under integrations.github.secret (is the webhook's secret the same?)`
      : `GitHub delivery ${this.deliveryId}: no X-Hub-Signature-256 header; give the webhook a secret, the same as integrations.github.secret`
  }
}
