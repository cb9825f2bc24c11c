/**
 * The one writer: every write runs in a `BEGIN IMMEDIATE` transaction on the writer
 * connection, retried with jitter when another process holds the lock. Announces each
 * commit so the supervisor and dispatcher wake without polling.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Schedule, Scope } from "effect"
import { makeWakeup } from "./internal/Wakeup.js"
import { WriterDb } from "./WriterDb.js"

const isBusy = (e: SqlError) => {
  const code = (e.cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
}

/**
 * Busy means another process holds the write lock beyond busy_timeout. SQLite waits out
 * busy_timeout by blocking the thread, so the writer's is short (Sqlite.ts) and the waiting
 * happens here, asynchronously: jittered backoff, at most 1 s apart, for up to 30 s.
 */
const busyRetry = Schedule.exponential("20 millis").pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("1 second")),
  Schedule.upTo("30 seconds")
)

/** Retries `effect` while it fails because another process holds the write lock. */
export const retryWhileBusy = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, { schedule: busyRetry, while: (e) => (e as { _tag?: string })._tag === "SqlError" && isBusy(e as SqlError) })

export class Writer extends Effect.Service<Writer>()("herald/Writer", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { db } = yield* WriterDb
    const committed = yield* makeWakeup
    // BEGIN IMMEDIATE: a deferred transaction that upgrades can fail with SQLITE_BUSY_SNAPSHOT without waiting.
    const immediate = SqlClient.makeWithTransaction({
      transactionTag: SqlClient.TransactionConnection,
      spanAttributes: [["db.system.name", "sqlite"]],
      acquireConnection: Effect.flatMap(Scope.make(), (scope) =>
        Effect.map(Scope.extend(sql.reserve, scope), (conn) => [scope, conn] as const)),
      begin: (conn) => conn.executeUnprepared("BEGIN IMMEDIATE", [], undefined),
      savepoint: (conn, id) => conn.executeUnprepared(`SAVEPOINT herald_${id}`, [], undefined),
      commit: (conn) => conn.executeUnprepared("COMMIT", [], undefined),
      // A BEGIN that failed (busy) opened nothing to roll back; a ROLLBACK then would be a defect, not a retry.
      rollback: (conn) => Effect.suspend(() => (db.inTransaction ? conn.executeUnprepared("ROLLBACK", [], undefined) : Effect.void)),
      rollbackSavepoint: (conn, id) => conn.executeUnprepared(`ROLLBACK TO SAVEPOINT herald_${id}`, [], undefined)
    })
    /** Runs `effect` in one write transaction; commits, or rolls back on failure. */
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
      retryWhileBusy(immediate(effect)).pipe(Effect.tap(() => committed.notify))
    return { transaction, committed } as const
  })
}) {}
