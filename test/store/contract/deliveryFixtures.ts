/**
 * Fixtures of the DeliveryStore contract: notifications written with portable SQL (the
 * contract tests DeliveryStore alone), new deliveries, and transitions built from a row.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { AttemptRow, DeliveryRow, NewDelivery, Transition } from "../../../src/store/DeliveryStore.js"

export interface NotificationFixture {
  readonly id: string
  readonly payload?: string
  readonly createdAt?: number
}

/** Inserts notifications directly (kind `build`, priority `high`, project `p1`). */
export const insertNotifications = (rows: ReadonlyArray<NotificationFixture>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.forEach(rows, (n) =>
      sql`INSERT INTO notifications (id, kind, priority, title, body, payload, project_id, session_id, created_at)
          VALUES (${n.id}, 'build', 'high', ${`title ${n.id}`}, 'body', ${n.payload ?? "{}"}, 'p1', NULL, ${n.createdAt ?? 1})`,
      { discard: true }))

/** A pending delivery of `notificationId` to `sink`, due at `nextAttemptAt`. */
export const newDelivery = (id: string, notificationId: string, sink: string, patch: Partial<NewDelivery> = {}): NewDelivery => ({
  id,
  notificationId,
  sink,
  status: "pending",
  maxAttempts: 3,
  nextAttemptAt: 0,
  reason: null,
  createdAt: 1,
  ...patch
})

/** The transition `row` -> `to`, fenced on the row's version and status (and `fenceOwner`). */
export const transition = (row: DeliveryRow, to: Partial<Omit<Transition, "id">> = {}): Transition => ({
  id: row.id,
  fromStatus: row.status,
  fromVersion: row.version,
  fenceOwner: null,
  status: row.status,
  attempts: row.attempts,
  maxAttempts: row.maxAttempts,
  rescues: row.rescues,
  nextAttemptAt: row.nextAttemptAt,
  leaseOwner: row.leaseOwner,
  leaseExpiresAt: row.leaseExpiresAt,
  lastErrorCode: row.lastErrorCode,
  lastError: row.lastError,
  externalId: row.externalId,
  reason: row.reason,
  updatedAt: row.updatedAt + 1,
  attempt: null,
  ...to
})

/** pending -> leased by `owner` until `expiresAt`. */
export const lease = (row: DeliveryRow, owner: string, expiresAt = 10_000): Transition =>
  transition(row, { status: "leased", leaseOwner: owner, leaseExpiresAt: expiresAt, nextAttemptAt: null })

/** The row as `lease(row, owner, expiresAt)` leaves it. */
export const afterLease = (row: DeliveryRow, owner: string, expiresAt = 10_000): DeliveryRow =>
  ({ ...row, status: "leased", leaseOwner: owner, leaseExpiresAt: expiresAt, nextAttemptAt: null, version: row.version + 1, updatedAt: row.updatedAt + 1 })

/** leased -> sent, a worker's outcome fenced on its lease; with its attempt row. */
export const sent = (row: DeliveryRow, owner: string, finishedAt = 50): Transition =>
  transition(row, {
    fenceOwner: owner,
    status: "sent",
    attempts: row.attempts + 1,
    leaseOwner: null,
    leaseExpiresAt: null,
    externalId: "ext-1",
    updatedAt: finishedAt,
    attempt: attemptRow(row.id, row.attempts + 1, { leaseOwner: owner, finishedAt })
  })

export const attemptRow = (deliveryId: string, attempt: number, patch: Partial<AttemptRow> = {}): AttemptRow => ({
  deliveryId,
  attempt,
  outcome: "sent",
  errorCode: null,
  error: null,
  retryable: null,
  leaseOwner: null,
  startedAt: 40,
  finishedAt: 50,
  durationMs: 10,
  nextAttemptAt: null,
  waitReason: null,
  heldBy: null,
  ...patch
})
