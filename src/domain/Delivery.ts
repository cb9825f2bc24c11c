/** A delivery (one notification to one sink), its attempts, and list filters. */
import { Schema } from "effect"
import { DeliveryId, NotificationId } from "./Ids.js"

export const deliveryStatuses = ["pending", "leased", "retry_wait", "sent", "dead", "skipped", "cancelled"] as const
export const DeliveryStatus = Schema.Literal(...deliveryStatuses)
export type DeliveryStatus = typeof DeliveryStatus.Type

/** States a delivery never leaves on its own (only an operator REQUEUE moves dead/skipped/cancelled). */
export const finalStatuses: ReadonlySet<DeliveryStatus> = new Set(["sent", "dead", "skipped", "cancelled"])

export class Delivery extends Schema.Class<Delivery>("Delivery")({
  id: DeliveryId,
  notificationId: NotificationId,
  sink: Schema.String,
  status: DeliveryStatus,
  attempts: Schema.Number,
  maxAttempts: Schema.Number,
  rescues: Schema.Number,
  nextAttemptAt: Schema.NullOr(Schema.Number),
  leaseOwner: Schema.NullOr(Schema.String),
  leaseExpiresAt: Schema.NullOr(Schema.Number),
  lastErrorCode: Schema.NullOr(Schema.String),
  lastError: Schema.NullOr(Schema.String),
  externalId: Schema.NullOr(Schema.String),
  reason: Schema.NullOr(Schema.String),
  version: Schema.Number,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  /** Why a pending or waiting delivery is not being sent now, when the reason is not its due time. */
  waitReason: Schema.optional(Schema.Literal("sink_disabled", "circuit_open").annotations({
    description: "sink_disabled: its sink is disabled in the settings; it waits until the sink is enabled again. " +
      "circuit_open: its sink's circuit breaker is open (or half open, with its one probe out); it waits, spending no attempt, until the circuit closes"
  }))
}) {}

/** The delivery as the settings and the circuits explain it: one waiting for a disabled sink, or behind an open circuit, says so. */
export const explainWait = (
  d: Delivery,
  sinkEnabled: (sink: string) => boolean | undefined,
  circuitHolds: (sink: string) => boolean = () => false
): Delivery => {
  if (d.status !== "pending" && d.status !== "retry_wait") return d
  if (sinkEnabled(d.sink) === false) return new Delivery({ ...d, waitReason: "sink_disabled" }, true)
  return circuitHolds(d.sink) ? new Delivery({ ...d, waitReason: "circuit_open" }, true) : d
}

export const AttemptOutcome = Schema.Literal("sent", "failed", "lease_expired")
export type AttemptOutcome = typeof AttemptOutcome.Type

export const WaitReason = Schema.Literal("backoff", "retry_after")
export type WaitReason = typeof WaitReason.Type

/** What held an attempt back after it was due, without spending an attempt: the sink's rate limit or its open circuit. */
export const HeldBy = Schema.Literal("rate_limited", "circuit_open")
export type HeldBy = typeof HeldBy.Type

export class DeliveryAttempt extends Schema.Class<DeliveryAttempt>("DeliveryAttempt")({
  deliveryId: DeliveryId,
  attempt: Schema.Number,
  outcome: AttemptOutcome,
  errorCode: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  retryable: Schema.NullOr(Schema.Boolean),
  leaseOwner: Schema.NullOr(Schema.String),
  startedAt: Schema.NullOr(Schema.Number),
  finishedAt: Schema.Number,
  durationMs: Schema.NullOr(Schema.Number),
  nextAttemptAt: Schema.NullOr(Schema.Number),
  waitReason: Schema.NullOr(WaitReason),
  /** Why this attempt started later than it was due (null: it went out when due). Not an attempt of its own. */
  heldBy: Schema.NullOr(HeldBy)
}) {}

/** Filters for listing deliveries; `after` is the keyset cursor (the last id of the previous page). */
export const DeliveryFilter = Schema.Struct({
  status: Schema.optional(DeliveryStatus),
  sink: Schema.optional(Schema.String),
  notificationId: Schema.optional(NotificationId),
  after: Schema.optional(DeliveryId),
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1_000)), { default: () => 100 })
})
export type DeliveryFilter = typeof DeliveryFilter.Type
export type DeliveryFilterInput = typeof DeliveryFilter.Encoded

/** One page of a keyset-paginated list; `next` is the cursor for the following page. */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly next: string | null
}
