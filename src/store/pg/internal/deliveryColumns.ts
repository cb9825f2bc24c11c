/**
 * The columns of deliveries and delivery_attempts for PostgreSQL, each written out once: the
 * select lists (camelCase aliases quoted, since PostgreSQL folds unquoted names to lower case)
 * and the batch writes, which bind one array per column and read the rows back with unnest.
 */
import type { SqlClient } from "@effect/sql"
import type { AttemptRow, DeliveryRow, NewDelivery, Transition } from "../../DeliveryStore.js"

/** DeliveryRow's fields and their columns. */
const deliveryFields = {
  id: "id",
  notificationId: "notification_id",
  sink: "sink",
  status: "status",
  attempts: "attempts",
  maxAttempts: "max_attempts",
  rescues: "rescues",
  nextAttemptAt: "next_attempt_at",
  leaseOwner: "lease_owner",
  leaseExpiresAt: "lease_expires_at",
  lastErrorCode: "last_error_code",
  lastError: "last_error",
  externalId: "external_id",
  reason: "reason",
  version: "version",
  createdAt: "created_at",
  updatedAt: "updated_at"
} as const satisfies Record<keyof DeliveryRow, string>

const selectList = (prefix: string, fields: Readonly<Record<string, string>>) =>
  Object.entries(fields).map(([field, column]) => `${prefix}${column} AS "${field}"`).join(", ")

/** A DeliveryRow, from `deliveries` unqualified. */
export const deliveryColumns = selectList("", deliveryFields)

/**
 * A ClaimRow, from `deliveries d JOIN notifications n`. The payload column is `json`; as text
 * it is the string SQLite returns, which the dispatcher parses.
 */
export const claimColumns = `${selectList("d.", deliveryFields)}, n.kind, n.priority, n.title, n.body,
  n.payload::TEXT AS "payload", n.project_id AS "projectId", n.session_id AS "sessionId",
  n.created_at AS "notificationCreatedAt"`

/** A DeliveryAttempt as a row (retryable still 0/1). */
export const attemptColumns = selectList("", {
  deliveryId: "delivery_id",
  attempt: "attempt",
  outcome: "outcome",
  errorCode: "error_code",
  error: "error",
  retryable: "retryable",
  leaseOwner: "lease_owner",
  startedAt: "started_at",
  finishedAt: "finished_at",
  durationMs: "duration_ms",
  nextAttemptAt: "next_attempt_at",
  waitReason: "wait_reason",
  heldBy: "held_by"
})

/** A column of a batch write: its name, its PostgreSQL type, and its value in one input row. */
type Column<A> = readonly [name: string, type: string, value: (a: A) => unknown]

/** `unnest($1::type[], ...) AS alias(name, ...)`: the rows as a table, one array parameter per column. */
const unnest = <A>(sql: SqlClient.SqlClient, columns: ReadonlyArray<Column<A>>, rows: ReadonlyArray<A>, alias: string) =>
  sql`unnest(${sql.csv(columns.map(([, type, value]) => sql`${rows.map(value)}::${sql.literal(type)}[]`))}) AS ${
    sql.literal(`${alias}(${columns.map(([name]) => name).join(", ")})`)
  }`

const names = <A>(columns: ReadonlyArray<Column<A>>) => columns.map(([name]) => name).join(", ")

const newDelivery: ReadonlyArray<Column<NewDelivery>> = [
  ["id", "TEXT", (r) => r.id],
  ["notification_id", "TEXT", (r) => r.notificationId],
  ["sink", "TEXT", (r) => r.sink],
  ["status", "TEXT", (r) => r.status],
  ["max_attempts", "INTEGER", (r) => r.maxAttempts],
  ["next_attempt_at", "BIGINT", (r) => r.nextAttemptAt],
  ["reason", "TEXT", (r) => r.reason],
  ["lease_owner", "TEXT", (r) => r.leaseOwner ?? null],
  ["lease_expires_at", "BIGINT", (r) => r.leaseExpiresAt ?? null],
  ["version", "INTEGER", (r) => r.version ?? 0],
  ["created_at", "BIGINT", (r) => r.createdAt],
  ["updated_at", "BIGINT", (r) => r.createdAt]
]

/** New deliveries in one statement; an existing (notification, sink) pair is left as it is. */
export const insertDeliveries = (sql: SqlClient.SqlClient, rows: ReadonlyArray<NewDelivery>) =>
  sql`INSERT INTO deliveries (${sql.literal(names(newDelivery))})
      SELECT * FROM ${unnest(sql, newDelivery, rows, "v")}
      ON CONFLICT (notification_id, sink) DO NOTHING`

/** What a transition sets (besides version + 1). */
const transitionSets: ReadonlyArray<Column<Transition>> = [
  ["status", "TEXT", (t) => t.status],
  ["attempts", "INTEGER", (t) => t.attempts],
  ["max_attempts", "INTEGER", (t) => t.maxAttempts],
  ["rescues", "INTEGER", (t) => t.rescues],
  ["next_attempt_at", "BIGINT", (t) => t.nextAttemptAt],
  ["lease_owner", "TEXT", (t) => t.leaseOwner],
  ["lease_expires_at", "BIGINT", (t) => t.leaseExpiresAt],
  ["last_error_code", "TEXT", (t) => t.lastErrorCode],
  ["last_error", "TEXT", (t) => t.lastError],
  ["external_id", "TEXT", (t) => t.externalId],
  ["reason", "TEXT", (t) => t.reason],
  ["updated_at", "BIGINT", (t) => t.updatedAt]
]

/** The row it names and the fence it must pass. */
const transitionFence: ReadonlyArray<Column<Transition>> = [
  ["id", "TEXT", (t) => t.id],
  ["from_version", "INTEGER", (t) => t.fromVersion],
  ["from_status", "TEXT", (t) => t.fromStatus],
  ["fence_owner", "TEXT", (t) => t.fenceOwner]
]

/**
 * Fenced updates of distinct deliveries in one statement, answering the ids written; the
 * others lost the race. Under READ COMMITTED a row another transaction changed meanwhile is
 * re-checked against the fence on its newest version, so a stale transition writes nothing.
 */
export const updateTransitions = (sql: SqlClient.SqlClient, transitions: ReadonlyArray<Transition>) =>
  sql<{ id: string }>`UPDATE deliveries AS d SET
      ${sql.literal(transitionSets.map(([name]) => `${name} = v.${name}`).join(", "))}, version = d.version + 1
    FROM ${unnest(sql, [...transitionFence, ...transitionSets], transitions, "v")}
    WHERE d.id = v.id AND d.version = v.from_version AND d.status = v.from_status
      AND (v.fence_owner IS NULL OR d.lease_owner = v.fence_owner)
    RETURNING d.id`

const attempt: ReadonlyArray<Column<AttemptRow>> = [
  ["delivery_id", "TEXT", (a) => a.deliveryId],
  ["attempt", "INTEGER", (a) => a.attempt],
  ["outcome", "TEXT", (a) => a.outcome],
  ["error_code", "TEXT", (a) => a.errorCode],
  ["error", "TEXT", (a) => a.error],
  // 0/1 INTEGER, as on SQLite.
  ["retryable", "INTEGER", (a) => (a.retryable === null ? null : a.retryable ? 1 : 0)],
  ["lease_owner", "TEXT", (a) => a.leaseOwner],
  ["started_at", "BIGINT", (a) => a.startedAt],
  ["finished_at", "BIGINT", (a) => a.finishedAt],
  ["duration_ms", "BIGINT", (a) => a.durationMs],
  ["next_attempt_at", "BIGINT", (a) => a.nextAttemptAt],
  ["wait_reason", "TEXT", (a) => a.waitReason],
  ["held_by", "TEXT", (a) => a.heldBy]
]

/** Attempt rows in one statement, in the order given (their ids follow it). */
export const insertAttempts = (sql: SqlClient.SqlClient, rows: ReadonlyArray<AttemptRow>) =>
  sql`INSERT INTO delivery_attempts (${sql.literal(names(attempt))})
      SELECT * FROM ${unnest(sql, attempt, rows, "v")}`
