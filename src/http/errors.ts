/** Failures that exist only at the HTTP edge (auth, idempotency, limits, draining). Herald's own are in src/domain/errors.ts. */
import { Schema } from "effect"

export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/** An Idempotency-Key reused with a different body. */
export class IdempotencyConflict extends Schema.TaggedError<IdempotencyConflict>()("IdempotencyConflict", {
  key: Schema.String
}) {
  override get message() {
    return `the Idempotency-Key '${this.key}' was first used with a different body; use a new key for a new request`
  }
}

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  limitBytes: Schema.Number
}) {
  override get message() {
    return `the request body is larger than ${this.limitBytes} bytes`
  }
}

/** A body sent as something other than JSON. */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", {
  contentType: Schema.String
}) {
  override get message() {
    return `send bodies as application/json, not ${this.contentType}`
  }
}

/** Not ready to serve: shutting down, or the database is not writable. */
export class NotReady extends Schema.TaggedError<NotReady>()("NotReady", {
  reason: Schema.String,
  retryAfterSeconds: Schema.Number
}) {
  override get message() {
    return this.reason
  }
}
