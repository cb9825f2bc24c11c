/**
 * The one writer: every write runs in one write transaction, retried (on SQLite, with jitter
 * while another process holds the lock). Announces each commit so the supervisor and
 * dispatcher wake without polling.
 */
import { Context, type Effect } from "effect"
import type { Wakeup } from "../lib/Wakeup.js"
import type { SqlError } from "./errors.js"

export { isTransientStorageError } from "./errors.js"

export interface WriterShape {
  /** Runs `effect` in one write transaction (BEGIN IMMEDIATE); commits, or rolls back on failure. Inside a transaction already open on this writer it is a savepoint, and a busy error is the outer transaction's to handle: retrying inside it cannot succeed. */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, SqlError | E, R>
  /** Announced after each commit of this writer. */
  readonly committed: Wakeup
  /** Hides a transaction of another @effect/sql client (an embedder's own database) from `effect`. */
  readonly isolate: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Whether another process committed to the database since the last call (a second daemon,
   * a program embedding Herald): its new deliveries, retries and requeues are due work this
   * process has not been told of.
   */
  readonly othersCommitted: Effect.Effect<boolean>
  /** Whether the caller is inside a transaction on Herald's own writer (an embedder's, through its SqlClient). */
  readonly inTransaction: Effect.Effect<boolean, never, never>
}

export class Writer extends Context.Tag("herald/Writer")<Writer, WriterShape>() {}
