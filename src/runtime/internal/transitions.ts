/** The bridge between delivery rows and the machine: a row's context, and a step's row write. */
import type { HeldBy } from "../../domain/Delivery.js"
import type { DeliveryContext, Stepped } from "../../machines/delivery.js"
import type { DeliveryRow, Transition } from "../../store/DeliveryStore.js"

export const contextOf = (r: DeliveryRow): DeliveryContext => ({
  attempts: r.attempts,
  maxAttempts: r.maxAttempts,
  rescues: r.rescues,
  leaseOwner: r.leaseOwner,
  leaseExpiresAt: r.leaseExpiresAt,
  lastErrorCode: r.lastErrorCode,
  lastError: r.lastError,
  externalId: r.externalId,
  reason: r.reason
})

export interface AttemptTiming {
  readonly startedAt: number | null
  readonly finishedAt: number
  /** What held the call back after it was due (the rate limit, an open circuit). */
  readonly heldBy?: HeldBy | null
}

/** The fenced write of one step. `fenceOwner`: the lease holder the row must still have. */
export const toTransition = (
  row: DeliveryRow,
  s: Stepped,
  now: number,
  fenceOwner: string | null,
  timing?: AttemptTiming
): Transition => ({
  id: row.id,
  fromStatus: row.status,
  fromVersion: row.version,
  fenceOwner,
  status: s.status,
  attempts: s.context.attempts,
  maxAttempts: s.context.maxAttempts,
  rescues: s.context.rescues,
  nextAttemptAt: s.schedule !== null
    ? s.schedule.atMs
    : s.status === "pending" || s.status === "retry_wait" ? row.nextAttemptAt : null,
  leaseOwner: s.context.leaseOwner,
  leaseExpiresAt: s.context.leaseExpiresAt,
  lastErrorCode: s.context.lastErrorCode,
  lastError: s.context.lastError,
  externalId: s.context.externalId,
  reason: s.context.reason,
  updatedAt: now,
  attempt: s.attempt === null ? null : {
    deliveryId: row.id,
    attempt: s.attempt.attempt,
    outcome: s.attempt.outcome,
    errorCode: s.attempt.errorCode,
    error: s.attempt.error,
    retryable: s.attempt.retryable,
    leaseOwner: row.leaseOwner,
    startedAt: timing?.startedAt ?? null,
    finishedAt: timing?.finishedAt ?? now,
    durationMs: timing?.startedAt != null ? timing.finishedAt - timing.startedAt : null,
    nextAttemptAt: s.attempt.nextAttemptAt,
    waitReason: s.attempt.waitReason,
    heldBy: timing?.heldBy ?? null
  }
})

/** The row as it is once the transition is written (version bumped). */
export const rowAfter = <R extends DeliveryRow>(row: R, t: Transition): R => ({
  ...row,
  status: t.status,
  attempts: t.attempts,
  maxAttempts: t.maxAttempts,
  rescues: t.rescues,
  nextAttemptAt: t.nextAttemptAt,
  leaseOwner: t.leaseOwner,
  leaseExpiresAt: t.leaseExpiresAt,
  lastErrorCode: t.lastErrorCode,
  lastError: t.lastError,
  externalId: t.externalId,
  reason: t.reason,
  updatedAt: t.updatedAt,
  version: row.version + 1
})
