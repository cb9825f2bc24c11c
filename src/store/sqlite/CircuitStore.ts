/** CircuitStore on SQLite: the implementation of src/store/CircuitStore.ts. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import type { DeliveryId } from "../../domain/Ids.js"
import type { CircuitStatus } from "../../machines/circuit.js"
import { ReadSql } from "../ReadSql.js"
import { CircuitRow, CircuitStore } from "../CircuitStore.js"

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

const columns = `sink, status, consecutive_failures AS consecutiveFailures, opens, cooldown_ms AS cooldownMs,
  opened_at AS openedAt, probe_at AS probeAt, probe_delivery_id AS probeDeliveryId, last_error_code AS lastErrorCode,
  last_error AS lastError, last_error_at AS lastErrorAt, reason, version, updated_at AS updatedAt`

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

  /** On the writer, inside the caller's transaction: the rows of these sinks (absent: never failed, closed). */
  const of = (sinks: ReadonlyArray<string>) =>
    sinks.length === 0
      ? Effect.succeed(new Map<string, CircuitRow>())
      : sql<Raw>`SELECT ${sql.literal(columns)} FROM circuits WHERE ${sql.in("sink", sinks)}`.pipe(
        Effect.map((rows) => new Map(rows.map((r) => [r.sink, toRow(r)])))
      )

  /** On the writer, inside the caller's transaction: every circuit that is not closed (a handful at most). */
  const notClosed = sql<Raw>`SELECT ${sql.literal(columns)} FROM circuits WHERE status <> 'closed'`.pipe(
    Effect.map((rows) => rows.map(toRow))
  )

  /** On the writer, inside the caller's transaction: writes each row as it now is (version + 1). */
  const write = (rows: ReadonlyArray<Omit<CircuitRow, "version">>) =>
    Effect.forEach(rows, (r) => {
      const c = r.context
      return sql`INSERT INTO circuits (sink, status, consecutive_failures, opens, cooldown_ms, opened_at, probe_at,
                                       probe_delivery_id, last_error_code, last_error, last_error_at, reason, version, updated_at)
        VALUES (${r.sink}, ${r.status}, ${c.consecutiveFailures}, ${c.opens}, ${c.cooldownMs}, ${c.openedAt}, ${c.probeAt},
                ${c.probeDeliveryId}, ${c.lastErrorCode}, ${c.lastError}, ${r.lastErrorAt}, ${c.reason}, 1, ${r.updatedAt})
        ON CONFLICT (sink) DO UPDATE SET status = excluded.status, consecutive_failures = excluded.consecutive_failures,
          opens = excluded.opens, cooldown_ms = excluded.cooldown_ms, opened_at = excluded.opened_at,
          probe_at = excluded.probe_at, probe_delivery_id = excluded.probe_delivery_id,
          last_error_code = excluded.last_error_code, last_error = excluded.last_error,
          last_error_at = excluded.last_error_at, reason = excluded.reason,
          version = circuits.version + 1, updated_at = excluded.updated_at`
    }, { discard: true })

  /** On the reader: every row, for GET /v1/sinks and /metrics. */
  const all = read<Raw>`SELECT ${read.literal(columns)} FROM circuits ORDER BY sink`.pipe(Effect.map((rows) => rows.map(toRow)))

  return { of, notClosed, write, all } as const
})

/** CircuitStore on SQLite. */
export const sqliteCircuitStore = Layer.effect(CircuitStore, make)
