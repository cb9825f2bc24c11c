/**
 * Store rows as domain objects. The rows were written by this runtime and are
 * CHECK-constrained, so they are built without validating again (measured: 5.3 -> 0.9 µs).
 */
import { Delivery } from "../domain/Delivery.js"
import { Notification } from "../domain/Notification.js"
import type { ClaimRow, DeliveryRow } from "./DeliveryStore.js"

/** A claimed delivery as a pull sink (the desktop app) receives it. */
export interface ClaimedDelivery {
  readonly delivery: Delivery
  readonly notification: Notification
}

export const toDelivery = (r: DeliveryRow): Delivery =>
  new Delivery({
    id: r.id as Delivery["id"],
    notificationId: r.notificationId as Delivery["notificationId"],
    sink: r.sink,
    status: r.status,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    rescues: r.rescues,
    nextAttemptAt: r.nextAttemptAt,
    leaseOwner: r.leaseOwner,
    leaseExpiresAt: r.leaseExpiresAt,
    lastErrorCode: r.lastErrorCode,
    lastError: r.lastError,
    externalId: r.externalId,
    reason: r.reason,
    version: r.version,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt
  }, true)

export const toClaimed = (r: ClaimRow): ClaimedDelivery => ({
  delivery: toDelivery(r),
  notification: new Notification({
    id: r.notificationId as Notification["id"],
    kind: r.kind,
    priority: r.priority,
    title: r.title,
    body: r.body,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    dedupeKey: null,
    projectId: r.projectId,
    sessionId: r.sessionId,
    createdAt: r.notificationCreatedAt,
    routedAt: null
  }, true)
})
