/**
 * DeliveryStore on PostgreSQL: the implementation of src/store/DeliveryStore.ts. Batch writes
 * are one statement each (array parameters read back with unnest); claims lock the rows they
 * return (FOR UPDATE SKIP LOCKED), so processes claiming at once take disjoint deliveries.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Delivery, DeliveryAttempt, type DeliveryFilter, type DeliveryStatus } from "../../domain/Delivery.js"
import { ReadSql } from "../ReadSql.js"
import { type AttemptRow, type ClaimRow, type DeliveryRow, DeliveryStore, type NewDelivery, type Transition } from "../DeliveryStore.js"
import { attemptColumns, claimColumns, deliveryColumns, insertAttempts, insertDeliveries, updateTransitions } from "./internal/deliveryColumns.js"

/** retryable is stored 0/1 (INTEGER, as on SQLite). */
const AttemptFromRow = Schema.Struct({
  ...DeliveryAttempt.fields,
  retryable: Schema.NullOr(Schema.transform(Schema.Number, Schema.Boolean, { strict: true, decode: (n) => n !== 0, encode: (b) => (b ? 1 : 0) }))
}).pipe(Schema.transform(Schema.typeSchema(DeliveryAttempt), {
  strict: true,
  decode: (r) => DeliveryAttempt.make(r),
  encode: (a) => ({ ...a })
}))

/** The partial index deliveries_status covers every status but 'sent': the term says so to the planner. */
const unsentTerm = (status: DeliveryStatus) => (status === "sent" ? "1 = 1" : "status <> 'sent'")

const waiting = "status IN ('pending', 'retry_wait')"

const asRows = <A>(rows: ReadonlyArray<unknown>) => rows as ReadonlyArray<A>

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const read = yield* ReadSql

  /** Inserts new deliveries; an existing (notification, sink) pair is left as it is. */
  const insertMany = (rows: ReadonlyArray<NewDelivery>) =>
    rows.length === 0 ? Effect.void : Effect.asVoid(insertDeliveries(sql, rows))

  /**
   * Due deliveries of one sink, oldest due first (index deliveries_due). In the claim
   * transaction: the rows stay locked until it ends, and rows another claim holds are passed
   * over, so concurrent claims take disjoint sets.
   */
  const due = (sink: string, now: number, limit: number) =>
    sql`SELECT ${sql.literal(claimColumns)}
        FROM deliveries d JOIN notifications n ON n.id = d.notification_id
        WHERE d.sink = ${sink} AND d.status IN ('pending', 'retry_wait') AND d.next_attempt_at <= ${now}
        ORDER BY d.next_attempt_at LIMIT ${limit}
        FOR UPDATE OF d SKIP LOCKED`.pipe(Effect.map(asRows<ClaimRow>))

  /**
   * Leased deliveries whose lease has run out (index deliveries_lease_expiry), locked for the
   * rescue's transaction; rows another process is rescuing (or renewing) are passed over, so
   * processes rescuing at once take disjoint sets. The rescue's writes are fenced as well, so a
   * row rescued and committed meanwhile is not rescued twice either.
   */
  const expired = (now: number, limit: number) =>
    sql`SELECT ${sql.literal(deliveryColumns)} FROM deliveries
        WHERE status = 'leased' AND lease_expires_at <= ${now}
        ORDER BY lease_expires_at LIMIT ${limit}
        FOR UPDATE SKIP LOCKED`.pipe(Effect.map(asRows<DeliveryRow>))

  /** Rows by id on the writer, for operator commands and pull-sink outcomes. */
  const byIds = (ids: ReadonlyArray<string>) =>
    sql`SELECT ${sql.literal(deliveryColumns)} FROM deliveries WHERE id = ANY(${ids}::TEXT[])`.pipe(Effect.map(asRows<DeliveryRow>))

  /** Claimed rows with their notifications, on the writer, for the claim API's answer. */
  const claimRowsByIds = (ids: ReadonlyArray<string>) =>
    sql`SELECT ${sql.literal(claimColumns)}
        FROM deliveries d JOIN notifications n ON n.id = d.notification_id
        WHERE d.id = ANY(${ids}::TEXT[])`.pipe(Effect.map(asRows<ClaimRow>))

  /**
   * Writes transitions, each fenced on (version, status, lease owner), and the attempt rows
   * of those written. Returns the ids written; the others lost the race and changed nothing.
   * One statement for the batch, unless a delivery appears twice: then each one's fence must
   * see the write of the one before it, so they go one by one.
   */
  const persist = (transitions: ReadonlyArray<Transition>) =>
    Effect.gen(function* () {
      const written = new Set<string>()
      if (transitions.length === 0) return written
      const distinct = new Set(transitions.map((t) => t.id)).size === transitions.length
      // Attempt rows of the transitions that passed their own fence (a repeat may not have).
      const attempts: Array<AttemptRow> = []
      const batches = distinct ? [transitions] : transitions.map((t) => [t])
      for (const batch of batches) {
        const passed = new Set((yield* updateTransitions(sql, batch)).map((r) => r.id))
        for (const t of batch) {
          if (!passed.has(t.id)) continue
          written.add(t.id)
          if (t.attempt !== null) attempts.push(t.attempt)
        }
      }
      if (attempts.length > 0) yield* insertAttempts(sql, attempts)
      return written
    })

  /**
   * Extends the leases this owner still holds; not a transition (no version bump, no change_log
   * row). Rows another transaction has locked are passed over rather than waited for: the
   * owner's own outcome write is ending those leases, and a rescue has found them expired. A
   * renewal that waited on them (and on the deadlocks of two batches locking rows in different
   * orders) took 10-17 s with four processes under load, and the leases it was renewing ran out
   * meanwhile. One passed over by an outcome write that then rolls back is renewed next round.
   */
  const renewLeases = (ids: ReadonlyArray<string>, owner: string, expiresAt: number) =>
    sql`UPDATE deliveries SET lease_expires_at = ${expiresAt}
        WHERE id IN (SELECT id FROM deliveries WHERE id = ANY(${ids}::TEXT[]) AND status = 'leased' AND lease_owner = ${owner}
                     FOR UPDATE SKIP LOCKED)`.pipe(Effect.asVoid)

  /** The earliest next_attempt_at among due-able deliveries of these sinks: one index search per sink. */
  const nextDueAt = (sinks: ReadonlyArray<string>) =>
    read<{ at: number | null }>`SELECT min(m.at) AS at FROM unnest(${sinks}::TEXT[]) AS s(sink)
      CROSS JOIN LATERAL (SELECT min(next_attempt_at) AS at FROM deliveries
                          WHERE sink = s.sink AND ${read.literal(waiting)}) AS m`.pipe(Effect.map((r) => r[0]?.at ?? null))

  /**
   * On the writer, inside the caller's transaction (the claim's, so its own claims are seen):
   * when the first delivery still waiting for `sink` is due (index deliveries_due).
   */
  const nextDueAtOf = (sink: string) =>
    sql<{ at: number | null }>`SELECT min(next_attempt_at) AS at FROM deliveries
      WHERE sink = ${sink} AND ${sql.literal(waiting)}`.pipe(Effect.map((r) => r[0]?.at ?? null))

  /** Sinks that deliveries wait for (pending or retry_wait), from the trigger-kept counts. */
  const waitingSinks = read<{ sink: string }>`
    SELECT DISTINCT sink FROM delivery_counts WHERE ${read.literal(waiting)} AND n > 0 ORDER BY sink`.pipe(
    Effect.map((rows) => rows.map((r) => r.sink))
  )

  /** On the writer, inside the caller's transaction: deliveries waiting for `sink` (index deliveries_due). */
  const waitingFor = (sink: string, limit: number) =>
    sql`SELECT ${sql.literal(deliveryColumns)} FROM deliveries
        WHERE sink = ${sink} AND ${sql.literal(waiting)} LIMIT ${limit}`.pipe(Effect.map(asRows<DeliveryRow>))

  const nextLeaseExpiry = read<{ at: number | null }>`
    SELECT min(lease_expires_at) AS at FROM deliveries WHERE status = 'leased'`.pipe(Effect.map((r) => r[0]?.at ?? null))

  const get = SqlSchema.findOne({
    Request: Schema.String,
    Result: Delivery,
    execute: (id) => read`SELECT ${read.literal(deliveryColumns)} FROM deliveries WHERE id = ${id}`
  })

  const attemptsOf = SqlSchema.findAll({
    Request: Schema.String,
    Result: AttemptFromRow,
    execute: (id) => read`SELECT ${read.literal(attemptColumns)} FROM delivery_attempts WHERE delivery_id = ${id} ORDER BY id`
  })

  const byNotification = SqlSchema.findAll({
    Request: Schema.String,
    Result: Delivery,
    execute: (id) => read`SELECT ${read.literal(deliveryColumns)} FROM deliveries WHERE notification_id = ${id} ORDER BY sink`
  })

  /** Keyset pagination on id, oldest first (index deliveries_status when filtering by status). */
  const list = (f: DeliveryFilter) =>
    read`SELECT ${read.literal(deliveryColumns)} FROM deliveries WHERE ${read.and([
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

  /** Deliveries by sink and status, from the `delivery_counts` view over the trigger-kept deltas (migration 0005). */
  const counts = read<{ sink: string; status: DeliveryStatus; n: number }>`
    SELECT sink, status, n FROM delivery_counts WHERE n > 0 ORDER BY sink, status`

  /**
   * The oldest due time among waiting deliveries, if it has come. One index search per sink:
   * a single min() over the (sink, next_attempt_at) index would read every waiting delivery.
   */
  const oldestDueAt = (now: number) =>
    read<{ at: number | null }>`SELECT min(m.at) AS at
      FROM (SELECT DISTINCT sink FROM delivery_counts WHERE ${read.literal(waiting)} AND n > 0) AS s
      CROSS JOIN LATERAL (SELECT min(next_attempt_at) AS at FROM deliveries
                          WHERE sink = s.sink AND ${read.literal(waiting)}) AS m`.pipe(
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

/** DeliveryStore on PostgreSQL. */
export const pgDeliveryStore = Layer.effect(DeliveryStore, make)
