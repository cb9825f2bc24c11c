/** DeliveryStore on SQLite: the implementation of src/store/DeliveryStore.ts. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Delivery, DeliveryAttempt, type DeliveryFilter, type DeliveryStatus } from "../../domain/Delivery.js"
import { insertAll, insertSql, rowsPerStatement, valuesSql } from "./multiRow.js"
import { rawWrite } from "./rawWrite.js"
import { ReadSql } from "../ReadSql.js"
import { WriterDb } from "./WriterDb.js"
import { AttemptRow, ClaimRow, DeliveryRow, DeliveryStore, NewDelivery, Transition } from "../DeliveryStore.js"

const columns = `id, notification_id AS notificationId, sink, status, attempts, max_attempts AS maxAttempts,
  rescues, next_attempt_at AS nextAttemptAt, lease_owner AS leaseOwner, lease_expires_at AS leaseExpiresAt,
  last_error_code AS lastErrorCode, last_error AS lastError, external_id AS externalId, reason, version,
  created_at AS createdAt, updated_at AS updatedAt`

const claimColumns = `d.id, d.notification_id AS notificationId, d.sink, d.status, d.attempts,
  d.max_attempts AS maxAttempts, d.rescues, d.next_attempt_at AS nextAttemptAt, d.lease_owner AS leaseOwner,
  d.lease_expires_at AS leaseExpiresAt, d.last_error_code AS lastErrorCode, d.last_error AS lastError,
  d.external_id AS externalId, d.reason, d.version, d.created_at AS createdAt, d.updated_at AS updatedAt,
  n.kind, n.priority, n.title, n.body, n.payload, n.project_id AS projectId, n.session_id AS sessionId,
  n.created_at AS notificationCreatedAt`

const AttemptFromRow = Schema.Struct({
  ...DeliveryAttempt.fields,
  retryable: Schema.NullOr(Schema.transform(Schema.Number, Schema.Boolean, { strict: true, decode: (n) => n !== 0, encode: (b) => (b ? 1 : 0) }))
}).pipe(Schema.transform(Schema.typeSchema(DeliveryAttempt), {
  strict: true,
  decode: (r) => DeliveryAttempt.make(r),
  encode: (a) => ({ ...a })
}))

/**
 * The partial index deliveries_status covers every status but 'sent'; SQLite uses it only when
 * the query repeats its WHERE term literally. 'sent' is listed by walking ids.
 */
const unsentTerm = (status: DeliveryStatus) => (status === "sent" ? "1 = 1" : "status <> 'sent'")

const deliveryInsert = (rows: number) =>
  insertSql(`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, next_attempt_at,
                                     reason, lease_owner, lease_expires_at, version, created_at, updated_at)`,
    12, rows, "ON CONFLICT (notification_id, sink) DO NOTHING")

/**
 * Fenced updates of `rows` transitions in one statement (16 values each: the id, the new
 * columns, then the fence), answering the ids written; the others lost the race.
 */
const updateManySql = (rows: number) => `UPDATE deliveries AS d SET
      status = v.column2, attempts = v.column3, max_attempts = v.column4, rescues = v.column5,
      next_attempt_at = v.column6, lease_owner = v.column7, lease_expires_at = v.column8,
      last_error_code = v.column9, last_error = v.column10, external_id = v.column11, reason = v.column12,
      updated_at = v.column13, version = d.version + 1
    FROM (${valuesSql(16, rows)}) AS v
    WHERE d.id = v.column1 AND d.version = v.column14 AND d.status = v.column15
      AND (v.column16 IS NULL OR d.lease_owner = v.column16)
    RETURNING id`

/** The same for one transition, as a plain UPDATE (cheaper than a one-row join). */
const updateOneSql = `
  UPDATE deliveries SET
    status = ?, attempts = ?, max_attempts = ?, rescues = ?, next_attempt_at = ?,
    lease_owner = ?, lease_expires_at = ?, last_error_code = ?, last_error = ?,
    external_id = ?, reason = ?, updated_at = ?, version = version + 1
  WHERE id = ? AND version = ? AND status = ? AND (? IS NULL OR lease_owner = ?)`

const attemptInsert = (rows: number) =>
  insertSql(`INSERT INTO delivery_attempts (delivery_id, attempt, outcome, error_code, error, retryable,
                                            lease_owner, started_at, finished_at, duration_ms,
                                            next_attempt_at, wait_reason, held_by)`, 13, rows)

const asRows = <A>(rows: ReadonlyArray<unknown>) => rows as ReadonlyArray<A>

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const read = yield* ReadSql
  const { prepare } = yield* WriterDb

  /** Inserts new deliveries; an existing (notification, sink) pair is left as it is. */
  const insertMany = (rows: ReadonlyArray<NewDelivery>) =>
    rawWrite("insert deliveries", () =>
      insertAll(prepare, deliveryInsert, rows, (p, r) =>
        p.push(r.id, r.notificationId, r.sink, r.status, r.maxAttempts, r.nextAttemptAt, r.reason,
          r.leaseOwner ?? null, r.leaseExpiresAt ?? null, r.version ?? 0, r.createdAt, r.createdAt)))

  /** Due deliveries of one sink, oldest due first (index deliveries_due). Writer side, in the claim transaction. */
  const due = (sink: string, now: number, limit: number) =>
    sql`SELECT ${sql.literal(claimColumns)}
        FROM deliveries d JOIN notifications n ON n.id = d.notification_id
        WHERE d.sink = ${sink} AND d.status IN ('pending', 'retry_wait') AND d.next_attempt_at <= ${now}
        ORDER BY d.next_attempt_at LIMIT ${limit}`.pipe(Effect.map(asRows<ClaimRow>))

  /** Leased deliveries whose lease has run out (index deliveries_lease_expiry). */
  const expired = (now: number, limit: number) =>
    sql`SELECT ${sql.literal(columns)} FROM deliveries
        WHERE status = 'leased' AND lease_expires_at <= ${now}
        ORDER BY lease_expires_at LIMIT ${limit}`.pipe(Effect.map(asRows<DeliveryRow>))

  /** Rows by id on the writer, for operator commands and pull-sink outcomes. */
  const byIds = (ids: ReadonlyArray<string>) =>
    sql`SELECT ${sql.literal(columns)} FROM deliveries
        WHERE id IN (SELECT value FROM json_each(jsonb(${JSON.stringify(ids)})))`.pipe(Effect.map(asRows<DeliveryRow>))

  /** Claimed rows with their notifications, on the writer, for the claim API's answer. */
  const claimRowsByIds = (ids: ReadonlyArray<string>) =>
    sql`SELECT ${sql.literal(claimColumns)}
        FROM deliveries d JOIN notifications n ON n.id = d.notification_id
        WHERE d.id IN (SELECT value FROM json_each(jsonb(${JSON.stringify(ids)})))`.pipe(Effect.map(asRows<ClaimRow>))

  /**
   * Writes transitions, each fenced on (version, status, lease owner), and the attempt rows
   * of those written. Returns the ids written; the others lost the race and changed nothing.
   */
  const persist = (transitions: ReadonlyArray<Transition>) =>
    transitions.length === 0 ? Effect.succeed(new Set<string>()) : rawWrite("persist transitions", () => {
      const written = new Set<string>()
      // Attempt rows of the transitions that passed their own fence (a repeat may not have).
      const attempts: Array<AttemptRow> = []
      const params: Array<unknown> = []
      const push = (t: Transition) =>
        params.push(t.id, t.status, t.attempts, t.maxAttempts, t.rescues, t.nextAttemptAt, t.leaseOwner, t.leaseExpiresAt,
          t.lastErrorCode, t.lastError, t.externalId, t.reason, t.updatedAt, t.fromVersion, t.fromStatus, t.fenceOwner)
      let i = 0
      // One statement per run of transitions, unless a delivery appears twice: then each one's
      // fence must see the write of the one before it, so they go one by one.
      if (transitions.length >= rowsPerStatement && new Set(transitions.map((t) => t.id)).size === transitions.length) {
        const many = prepare(updateManySql(rowsPerStatement))
        for (; i + rowsPerStatement <= transitions.length; i += rowsPerStatement) {
          params.length = 0
          for (let j = i; j < i + rowsPerStatement; j++) push(transitions[j]!)
          const passed = new Set((many.all(params) as ReadonlyArray<{ id: string }>).map((r) => r.id))
          for (let j = i; j < i + rowsPerStatement; j++) {
            const t = transitions[j]!
            if (!passed.has(t.id)) continue
            written.add(t.id)
            if (t.attempt !== null) attempts.push(t.attempt)
          }
        }
      }
      const one = prepare(updateOneSql)
      for (; i < transitions.length; i++) {
        const t = transitions[i]!
        const { changes } = one.run(t.status, t.attempts, t.maxAttempts, t.rescues, t.nextAttemptAt, t.leaseOwner,
          t.leaseExpiresAt, t.lastErrorCode, t.lastError, t.externalId, t.reason, t.updatedAt,
          t.id, t.fromVersion, t.fromStatus, t.fenceOwner, t.fenceOwner)
        if (changes === 0) continue
        written.add(t.id)
        if (t.attempt !== null) attempts.push(t.attempt)
      }
      insertAll(prepare, attemptInsert, attempts, (p, a) =>
        p.push(a.deliveryId, a.attempt, a.outcome, a.errorCode, a.error, a.retryable === null ? null : a.retryable ? 1 : 0,
          a.leaseOwner, a.startedAt, a.finishedAt, a.durationMs, a.nextAttemptAt, a.waitReason, a.heldBy))
      return written
    })

  /** Extends the leases this owner still holds; not a transition (no version bump, no change_log row). */
  const renewLeases = (ids: ReadonlyArray<string>, owner: string, expiresAt: number) =>
    sql`UPDATE deliveries SET lease_expires_at = ${expiresAt}
        WHERE id IN (SELECT value FROM json_each(jsonb(${JSON.stringify(ids)})))
          AND status = 'leased' AND lease_owner = ${owner}`.pipe(Effect.asVoid)

  /** The earliest next_attempt_at among due-able deliveries of these sinks. */
  const nextDueAt = (sinks: ReadonlyArray<string>) =>
    Effect.forEach(sinks, (sink) =>
      read<{ at: number | null }>`SELECT min(next_attempt_at) AS at FROM deliveries
        WHERE sink = ${sink} AND status IN ('pending', 'retry_wait')`).pipe(
      Effect.map((rs) => rs.flatMap((r) => (r[0]?.at != null ? [r[0].at] : []))),
      Effect.map((ats) => (ats.length === 0 ? null : Math.min(...ats)))
    )

  /**
   * On the writer, inside the caller's transaction (the claim's, so its own claims are seen):
   * when the first delivery still waiting for `sink` is due (index deliveries_due).
   */
  const nextDueAtOf = (sink: string) =>
    sql<{ at: number | null }>`SELECT min(next_attempt_at) AS at FROM deliveries
      WHERE sink = ${sink} AND status IN ('pending', 'retry_wait')`.pipe(Effect.map((r) => r[0]?.at ?? null))

  /** Sinks that deliveries wait for (pending or retry_wait), from the trigger-kept counts. */
  const waitingSinks = read<{ sink: string }>`
    SELECT DISTINCT sink FROM delivery_counts WHERE status IN ('pending', 'retry_wait') AND n > 0`.pipe(
    Effect.map((rows) => rows.map((r) => r.sink))
  )

  /** On the writer, inside the caller's transaction: deliveries waiting for `sink` (index deliveries_due). */
  const waitingFor = (sink: string, limit: number) =>
    sql`SELECT ${sql.literal(columns)} FROM deliveries
        WHERE sink = ${sink} AND status IN ('pending', 'retry_wait') LIMIT ${limit}`.pipe(Effect.map(asRows<DeliveryRow>))

  const nextLeaseExpiry = read<{ at: number | null }>`
    SELECT min(lease_expires_at) AS at FROM deliveries WHERE status = 'leased'`.pipe(Effect.map((r) => r[0]?.at ?? null))

  const get = SqlSchema.findOne({
    Request: Schema.String,
    Result: Delivery,
    execute: (id) => read`SELECT ${read.literal(columns)} FROM deliveries WHERE id = ${id}`
  })

  const attemptsOf = SqlSchema.findAll({
    Request: Schema.String,
    Result: AttemptFromRow,
    execute: (id) =>
      read`SELECT delivery_id AS deliveryId, attempt, outcome, error_code AS errorCode, error, retryable,
                  lease_owner AS leaseOwner, started_at AS startedAt, finished_at AS finishedAt,
                  duration_ms AS durationMs, next_attempt_at AS nextAttemptAt, wait_reason AS waitReason,
                  held_by AS heldBy
           FROM delivery_attempts WHERE delivery_id = ${id} ORDER BY id`
  })

  const byNotification = SqlSchema.findAll({
    Request: Schema.String,
    Result: Delivery,
    execute: (id) => read`SELECT ${read.literal(columns)} FROM deliveries WHERE notification_id = ${id} ORDER BY sink`
  })

  /** Keyset pagination on id, oldest first (index deliveries_status when filtering by status). */
  const list = (f: DeliveryFilter) =>
    read`SELECT ${read.literal(columns)} FROM deliveries WHERE ${read.and([
      f.status !== undefined ? read`status = ${f.status} AND ${read.literal(unsentTerm(f.status))}` : read`1 = 1`,
      f.sink !== undefined ? read`sink = ${f.sink}` : read`1 = 1`,
      f.notificationId !== undefined ? read`notification_id = ${f.notificationId}` : read`1 = 1`,
      f.after !== undefined ? read`id > ${f.after}` : read`1 = 1`
    ])} ORDER BY id LIMIT ${f.limit + 1}`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(Delivery))),
      Effect.orDie,
      Effect.map((rows) => ({ items: rows.slice(0, f.limit), next: rows.length > f.limit ? rows[f.limit - 1]!.id : null }))
    )

  /** Ids matching a filter, on the writer (bulk operator commands). */
  const idsWhere = (f: { status?: DeliveryStatus | undefined; sink?: string | undefined }, limit: number) =>
    sql<{ id: string }>`SELECT id FROM deliveries WHERE ${sql.and([
      f.status !== undefined ? sql`status = ${f.status} AND ${sql.literal(unsentTerm(f.status))}` : sql`1 = 1`,
      f.sink !== undefined ? sql`sink = ${f.sink}` : sql`1 = 1`
    ])} ORDER BY id LIMIT ${limit}`.pipe(Effect.map((r) => r.map((x) => x.id)))

  /** Deliveries by sink and status, from the trigger-kept `delivery_counts` (migration 0005). */
  const counts = read<{ sink: string; status: DeliveryStatus; n: number }>`
    SELECT sink, status, n FROM delivery_counts WHERE n > 0`

  /**
   * The oldest due time among waiting deliveries, if it has come. One index search per sink:
   * a single min() over the (sink, next_attempt_at) index would read every waiting delivery.
   */
  const oldestDueAt = (now: number) =>
    read<{ at: number | null }>`SELECT min(at) AS at FROM (
        SELECT (SELECT min(next_attempt_at) FROM deliveries
                WHERE sink = s.sink AND status IN ('pending', 'retry_wait')) AS at
        FROM (SELECT DISTINCT sink FROM delivery_counts WHERE status IN ('pending', 'retry_wait') AND n > 0) AS s)`.pipe(
      Effect.map((r) => {
        const at = r[0]?.at ?? null
        return at !== null && at <= now ? at : null
      })
    )

  return {
    insertMany,
    due,
    expired,
    byIds,
    claimRowsByIds,
    persist,
    renewLeases,
    nextDueAt,
    nextDueAtOf,
    waitingSinks,
    waitingFor,
    nextLeaseExpiry,
    get: (id: string) => get(id).pipe(Effect.orDie, Effect.map(Option.getOrUndefined)),
    attemptsOf: (id: string) => Effect.orDie(attemptsOf(id)),
    byNotification: (id: string) => Effect.orDie(byNotification(id)),
    list,
    idsWhere,
    counts,
    oldestDueAt
  } as const
})

/** DeliveryStore on SQLite. */
export const sqliteDeliveryStore = Layer.effect(DeliveryStore, make)
