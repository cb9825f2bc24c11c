/**
 * Deliveries and their attempts in SQLite. Hot writes run as prepared statements in the
 * writer's transaction (multi-row inserts, one fenced update per transition): a transition is
 * written only where the row still has the version, status and lease owner it was computed from.
 * SQL only here.
 */
import { Context, Effect } from "effect"
import { type AttemptOutcome, Delivery, DeliveryAttempt, type DeliveryFilter, type DeliveryStatus, type HeldBy, type WaitReason } from "../domain/Delivery.js"
import type { Priority } from "../domain/Priority.js"
import type { SqlError } from "./errors.js"
import type { DeliveryId } from "../domain/Ids.js"

/** A delivery row as read on the hot path (trusted: written by this module, CHECK-constrained). */
export interface DeliveryRow {
  readonly id: string
  readonly notificationId: string
  readonly sink: string
  readonly status: DeliveryStatus
  readonly attempts: number
  readonly maxAttempts: number
  readonly rescues: number
  readonly nextAttemptAt: number | null
  readonly leaseOwner: string | null
  readonly leaseExpiresAt: number | null
  readonly lastErrorCode: string | null
  readonly lastError: string | null
  readonly externalId: string | null
  readonly reason: string | null
  readonly version: number
  readonly createdAt: number
  readonly updatedAt: number
}

/** A claimed delivery with what its sink needs of the notification. */
export interface ClaimRow extends DeliveryRow {
  readonly kind: string
  readonly priority: Priority
  readonly title: string
  readonly body: string
  readonly payload: string
  readonly projectId: string | null
  readonly sessionId: string | null
  readonly notificationCreatedAt: number
}

export interface NewDelivery {
  readonly id: string
  readonly notificationId: string
  readonly sink: string
  /** `leased`: created already claimed by this process (the dispatcher's direct hand-off). */
  readonly status: "pending" | "skipped" | "leased"
  readonly maxAttempts: number
  readonly nextAttemptAt: number | null
  readonly reason: string | null
  readonly createdAt: number
  readonly leaseOwner?: string | null
  readonly leaseExpiresAt?: number | null
  readonly version?: number
}

export interface AttemptRow {
  readonly deliveryId: string
  readonly attempt: number
  readonly outcome: AttemptOutcome
  readonly errorCode: string | null
  readonly error: string | null
  readonly retryable: boolean | null
  readonly leaseOwner: string | null
  readonly startedAt: number | null
  readonly finishedAt: number
  readonly durationMs: number | null
  readonly nextAttemptAt: number | null
  readonly waitReason: WaitReason | null
  readonly heldBy: HeldBy | null
}

/** A computed transition, and the fence it must pass to be written. */
export interface Transition {
  readonly id: string
  readonly fromStatus: DeliveryStatus
  readonly fromVersion: number
  /** When set, the row must still be leased by this owner (a worker's outcome). */
  readonly fenceOwner: string | null
  readonly status: DeliveryStatus
  readonly attempts: number
  readonly maxAttempts: number
  readonly rescues: number
  readonly nextAttemptAt: number | null
  readonly leaseOwner: string | null
  readonly leaseExpiresAt: number | null
  readonly lastErrorCode: string | null
  readonly lastError: string | null
  readonly externalId: string | null
  readonly reason: string | null
  readonly updatedAt: number
  readonly attempt: AttemptRow | null
}

export interface DeliveryStoreShape {
  /** Inserts new deliveries; an existing (notification, sink) pair is left as it is. */
  readonly insertMany: (rows: ReadonlyArray<NewDelivery>) => Effect.Effect<void, SqlError, never>
  /** Due deliveries of one sink, oldest due first (index deliveries_due). Writer side, in the claim transaction. */
  readonly due: (sink: string, now: number, limit: number) => Effect.Effect<readonly ClaimRow[], SqlError, never>
  /** Leased deliveries whose lease has run out (index deliveries_lease_expiry). */
  readonly expired: (now: number, limit: number) => Effect.Effect<readonly DeliveryRow[], SqlError, never>
  /** Rows by id on the writer, for operator commands and pull-sink outcomes. */
  readonly byIds: (ids: ReadonlyArray<string>) => Effect.Effect<readonly DeliveryRow[], SqlError, never>
  /** Claimed rows with their notifications, on the writer, for the claim API's answer. */
  readonly claimRowsByIds: (ids: ReadonlyArray<string>) => Effect.Effect<readonly ClaimRow[], SqlError, never>
  /** Writes transitions, each fenced on (version, status, lease owner), and the attempt rows of those written. Returns the ids written; the others lost the race and changed nothing. */
  readonly persist: (transitions: ReadonlyArray<Transition>) => Effect.Effect<Set<string>, SqlError, never>
  /** Extends the leases this owner still holds; not a transition (no version bump, no change_log row). */
  readonly renewLeases: (ids: ReadonlyArray<string>, owner: string, expiresAt: number) => Effect.Effect<void, SqlError, never>
  /** The earliest next_attempt_at among due-able deliveries of these sinks. */
  readonly nextDueAt: (sinks: ReadonlyArray<string>) => Effect.Effect<number | null, SqlError, never>
  /** On the writer, inside the caller's transaction (the claim's, so its own claims are seen): when the first delivery still waiting for `sink` is due (index deliveries_due). */
  readonly nextDueAtOf: (sink: string) => Effect.Effect<number | null, SqlError, never>
  /** Sinks that deliveries wait for (pending or retry_wait), from the trigger-kept counts. */
  readonly waitingSinks: Effect.Effect<string[], SqlError, never>
  /** On the writer, inside the caller's transaction: deliveries waiting for `sink` (index deliveries_due). */
  readonly waitingFor: (sink: string, limit: number) => Effect.Effect<readonly DeliveryRow[], SqlError, never>
  readonly nextLeaseExpiry: Effect.Effect<number | null, SqlError, never>
  readonly get: (id: string) => Effect.Effect<Delivery | undefined, never, never>
  readonly attemptsOf: (id: string) => Effect.Effect<readonly DeliveryAttempt[], never, never>
  readonly byNotification: (id: string) => Effect.Effect<readonly Delivery[], never, never>
  /** Keyset pagination on id, oldest first (index deliveries_status when filtering by status). */
  readonly list: (f: DeliveryFilter) => Effect.Effect<{ items: Delivery[]; next: DeliveryId | null; }, never, never>
  /** Ids matching a filter, on the writer (bulk operator commands). */
  readonly idsWhere: (f: { status?: DeliveryStatus | undefined; sink?: string | undefined; }, limit: number) => Effect.Effect<string[], SqlError, never>
  /** Deliveries by sink and status, from the trigger-kept `delivery_counts` (migration 0005). */
  readonly counts: Effect.Effect<ReadonlyArray<{ sink: string; status: DeliveryStatus; n: number; }>, SqlError>
  /** The oldest due time among waiting deliveries, if it has come. One index search per sink: a single min() over the (sink, next_attempt_at) index would read every waiting delivery. */
  readonly oldestDueAt: (now: number) => Effect.Effect<number | null, SqlError, never>
}

export class DeliveryStore extends Context.Tag("herald/DeliveryStore")<DeliveryStore, DeliveryStoreShape>() {}
