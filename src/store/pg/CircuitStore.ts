/**
 * CircuitStore on PostgreSQL: the implementation of src/store/CircuitStore.ts. Two processes
 * may step the same circuit at once, so the reads made inside the caller's write transaction
 * lock what they read until it commits: the second transaction then reads the first's write
 * instead of overwriting it with a step computed from the row before it.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import type { DeliveryId } from "../../domain/Ids.js"
import type { CircuitStatus } from "../../machines/circuit.js"
import { ReadSql } from "../ReadSql.js"
import { type CircuitRow, CircuitStore } from "../CircuitStore.js"

interface Raw {
  readonly sink: string
  readonly status: CircuitStatus
  readonly consecutiveFailures: number
  readonly opens: number
  readonly cooldownMs: number | null
  readonly openedAt: number | null
  readonly probeAt: number | null
  readonly probeDeliveryId: string | null
  readonly lastErrorCode: string | null
  readonly lastError: string | null
  readonly lastErrorAt: number | null
  readonly reason: string | null
  readonly version: number
  readonly updatedAt: number
}

// Quoted: PostgreSQL folds unquoted aliases to lower case.
const columns = `sink, status, consecutive_failures AS "consecutiveFailures", opens, cooldown_ms AS "cooldownMs",
  opened_at AS "openedAt", probe_at AS "probeAt", probe_delivery_id AS "probeDeliveryId", last_error_code AS "lastErrorCode",
  last_error AS "lastError", last_error_at AS "lastErrorAt", reason, version, updated_at AS "updatedAt"`

const toRow = (r: Raw): CircuitRow => ({
  sink: r.sink,
  status: r.status,
  context: {
    consecutiveFailures: r.consecutiveFailures,
    opens: r.opens,
    cooldownMs: r.cooldownMs,
    openedAt: r.openedAt,
    probeAt: r.probeAt,
    probeDeliveryId: r.probeDeliveryId as DeliveryId | null,
    lastErrorCode: r.lastErrorCode,
    lastError: r.lastError,
    reason: r.reason
  },
  lastErrorAt: r.lastErrorAt,
  version: r.version,
  updatedAt: r.updatedAt
})

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const read = yield* ReadSql

  /**
   * On the writer, inside the caller's transaction: the rows of these sinks (absent: never
   * failed, closed), locked until it ends. A row lock cannot cover a sink without a row (two
   * first failures would both insert, and the later upsert would drop the earlier count), so
   * each sink's transaction-scoped advisory lock is taken first, in name order (no deadlock
   * between two callers); FOR UPDATE then also holds the rows against `notClosed` callers.
   */
  const of = (sinks: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      if (sinks.length === 0) return new Map<string, CircuitRow>()
      const sorted = [...new Set(sinks)].sort()
      yield* sql`SELECT pg_advisory_xact_lock(hashtextextended('herald/circuit/' || s, 0)) FROM unnest(${sorted}::text[]) AS s`
      const rows = yield* sql<Raw>`SELECT ${sql.literal(columns)} FROM circuits WHERE sink = ANY(${sorted}::text[])
                                   ORDER BY sink FOR UPDATE`
      return new Map(rows.map((r) => [r.sink, toRow(r)]))
    })

  /**
   * On the writer, inside the caller's transaction: every circuit that is not closed (a handful
   * at most), locked in name order until it ends. A row another transaction has stepped to
   * closed meanwhile is re-checked by PostgreSQL on waking, and left out.
   */
  const notClosed = sql<Raw>`SELECT ${sql.literal(columns)} FROM circuits WHERE status <> 'closed' ORDER BY sink FOR UPDATE`.pipe(
    Effect.map((rows) => rows.map(toRow))
  )

  /**
   * On the writer, inside the caller's transaction: writes each row as it now is (version + 1),
   * in one statement. Callers hand in each sink once; should one come twice, its last row is
   * written (PostgreSQL refuses to update one row twice in a statement).
   */
  const write = (rows: ReadonlyArray<Omit<CircuitRow, "version">>) =>
    Effect.gen(function* () {
      const last = [...new Map(rows.map((r) => [r.sink, r])).values()]
      if (last.length === 0) return
      const c = last.map((r) => r.context)
      yield* sql`INSERT INTO circuits (sink, status, consecutive_failures, opens, cooldown_ms, opened_at, probe_at,
                                       probe_delivery_id, last_error_code, last_error, last_error_at, reason, version, updated_at)
        SELECT sink, status, consecutive_failures, opens, cooldown_ms, opened_at, probe_at,
               probe_delivery_id, last_error_code, last_error, last_error_at, reason, 1, updated_at
        FROM unnest(${last.map((r) => r.sink)}::text[], ${last.map((r) => r.status)}::text[],
                    ${c.map((x) => x.consecutiveFailures)}::int[], ${c.map((x) => x.opens)}::int[],
                    ${c.map((x) => x.cooldownMs)}::bigint[], ${c.map((x) => x.openedAt)}::bigint[], ${c.map((x) => x.probeAt)}::bigint[],
                    ${c.map((x) => x.probeDeliveryId)}::text[], ${c.map((x) => x.lastErrorCode)}::text[], ${c.map((x) => x.lastError)}::text[],
                    ${last.map((r) => r.lastErrorAt)}::bigint[], ${c.map((x) => x.reason)}::text[], ${last.map((r) => r.updatedAt)}::bigint[])
          AS v(sink, status, consecutive_failures, opens, cooldown_ms, opened_at, probe_at,
               probe_delivery_id, last_error_code, last_error, last_error_at, reason, updated_at)
        ON CONFLICT (sink) DO UPDATE SET status = excluded.status, consecutive_failures = excluded.consecutive_failures,
          opens = excluded.opens, cooldown_ms = excluded.cooldown_ms, opened_at = excluded.opened_at,
          probe_at = excluded.probe_at, probe_delivery_id = excluded.probe_delivery_id,
          last_error_code = excluded.last_error_code, last_error = excluded.last_error,
          last_error_at = excluded.last_error_at, reason = excluded.reason,
          version = circuits.version + 1, updated_at = excluded.updated_at`
    })

  /** On the reader: every row, for GET /v1/sinks and /metrics. */
  const all = read<Raw>`SELECT ${read.literal(columns)} FROM circuits ORDER BY sink`.pipe(Effect.map((rows) => rows.map(toRow)))

  return { of, notClosed, write, all } as const
})

/** CircuitStore on PostgreSQL. */
export const pgCircuitStore = Layer.effect(CircuitStore, make)
