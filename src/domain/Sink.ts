/** The sink contract: what a sink receives for one delivery, and how it fails. */
import { Schema } from "effect"
import type { Effect } from "effect"
import type { Priority } from "./Priority.js"
import type { SinkConfig } from "./Settings.js"

/** What a sink is handed. `idempotencyKey` is the delivery id: receivers dedupe on it. */
export interface SinkDelivery {
  readonly deliveryId: string
  readonly idempotencyKey: string
  readonly attempt: number
  readonly sink: string
  readonly notification: {
    readonly id: string
    readonly kind: string
    readonly priority: Priority
    readonly title: string
    readonly body: string
    readonly payload: Record<string, unknown>
    readonly projectId: string | null
    readonly sessionId: string | null
    readonly createdAt: number
  }
}

export interface SinkReceipt {
  /** The receiver's own id for what it received (a message id), when it gives one. */
  readonly externalId?: string | undefined
}

/** A sink's failure: `retryable` decides retry or dead letter; `retryAfterMs` is the receiver's wish. */
export class SinkFailure extends Schema.TaggedError<SinkFailure>()("SinkFailure", {
  retryable: Schema.Boolean,
  code: Schema.String,
  message: Schema.String,
  retryAfterMs: Schema.optional(Schema.Number)
}) {}

/** One implementation per sink type; `config` is the named sink's settings. */
export interface Sink {
  readonly deliver: (config: SinkConfig, delivery: SinkDelivery) => Effect.Effect<SinkReceipt, SinkFailure>
}
