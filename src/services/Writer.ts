/**
 * The one writer: every write runs in a `BEGIN IMMEDIATE` transaction on the writer
 * connection, retried with jitter when another process holds the lock. Announces each
 * commit so the supervisor and dispatcher wake without polling.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Schedule, Scope } from "effect"
import { makeWakeup } from "./internal/Wakeup.js"

const isBusy = (e: SqlError) => {
  const code = (e.cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
}

// Busy means another process holds the write lock beyond busy_timeout: back off with jitter.
const busyRetry = Schedule.exponential("20 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(8)))

export class Writer extends Effect.Service<Writer>()("herald/Writer", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
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
      rollback: (conn) => conn.executeUnprepared("ROLLBACK", [], undefined),
      rollbackSavepoint: (conn, id) => conn.executeUnprepared(`ROLLBACK TO SAVEPOINT herald_${id}`, [], undefined)
    })
    /** Runs `effect` in one write transaction; commits, or rolls back on failure. */
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
      immediate(effect).pipe(
        Effect.retry({ schedule: busyRetry, while: (e) => (e as { _tag?: string })._tag === "SqlError" && isBusy(e as SqlError) }),
        Effect.tap(() => committed.notify)
      )
    return { transaction, committed } as const
  })
}) {}
