/**
 * The `circuits` table: one row per push sink that has failed or has a circuit breaker, holding
 * the circuit machine's status and context and the sink's last error. Rows are written on the
 * writer inside the caller's transaction (change_log rows come from triggers); `all` reads on
 * the reader for the API and metrics.
 */
import { Context, Effect } from "effect"
import type { CircuitContext, CircuitStatus } from "../machines/circuit.js"
import type { SqlError } from "./errors.js"

export interface CircuitRow {
  readonly sink: string
  readonly status: CircuitStatus
  readonly context: CircuitContext
  /** When `lastError` was seen: any failure of the sink, counted by the breaker or not. */
  readonly lastErrorAt: number | null
  readonly version: number
  readonly updatedAt: number
}

export interface CircuitStoreShape {
  /** On the writer, inside the caller's transaction: the rows of these sinks (absent: never failed, closed). */
  readonly of: (sinks: ReadonlyArray<string>) => Effect.Effect<Map<string, CircuitRow>, SqlError, never>
  /** On the writer, inside the caller's transaction: every circuit that is not closed (a handful at most). */
  readonly notClosed: Effect.Effect<CircuitRow[], SqlError, never>
  /** On the writer, inside the caller's transaction: writes each row as it now is (version + 1). */
  readonly write: (rows: ReadonlyArray<Omit<CircuitRow, "version">>) => Effect.Effect<void, SqlError, never>
  /** On the reader: every row, for GET /v1/sinks and /metrics. */
  readonly all: Effect.Effect<CircuitRow[], SqlError, never>
}

export class CircuitStore extends Context.Tag("herald/CircuitStore")<CircuitStore, CircuitStoreShape>() {}
