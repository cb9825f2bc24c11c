/** Writer on SQLite: the implementation of src/store/Writer.ts. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schedule } from "effect"
import { hideForeignTransaction } from "../internal/ownTransaction.js"
import { makeWakeup } from "../../lib/Wakeup.js"
import { WriterDb } from "./WriterDb.js"
import { driverCodeOf, type SqlError } from "../errors.js"
import { Writer } from "../Writer.js"

const isBusy = (e: unknown) => {
  const code = driverCodeOf(e)
  return code !== undefined && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
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

/** Retries `effect` while it fails because another process holds the write lock (or `also` says to). */
export const retryWhileBusy = <A, E, R>(effect: Effect.Effect<A, E, R>, also: (e: E) => boolean = () => false) =>
  Effect.retry(effect, { schedule: busyRetry, while: (e) => isBusy(e) || also(e) })

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const { db, owns } = yield* WriterDb
  const committed = yield* makeWakeup

  /** Hides a transaction of another @effect/sql client (an embedder's own database) from `effect`. */
  const isolate = hideForeignTransaction(owns)

  /** Whether the caller is inside a transaction on Herald's own writer (an embedder's, through its SqlClient). */
  const inTransaction = Effect.map(Effect.serviceOption(SqlClient.TransactionConnection), (outer) => Option.isSome(outer) && owns(outer.value))

  /**
   * Runs `effect` in one write transaction (BEGIN IMMEDIATE); commits, or rolls back on
   * failure. Inside a transaction already open on this writer it is a savepoint, and a busy
   * error is the outer transaction's to handle: retrying inside it cannot succeed.
   */
  const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    isolate(Effect.flatMap(inTransaction, (nested) =>
      nested ? sql.withTransaction(effect) : retryWhileBusy(sql.withTransaction(effect)).pipe(Effect.tap(() => committed.notify))))

  // SQLite's data_version on the writer connection moves only when another connection commits.
  let dataVersion = db.pragma("data_version", { simple: true })
  const othersCommitted = Effect.sync(() => {
    const now = db.pragma("data_version", { simple: true })
    if (now === dataVersion) return false
    dataVersion = now
    return true
  })

  return { transaction, committed, isolate, inTransaction, othersCommitted } as const
})

/** Writer on SQLite. */
export const sqliteWriter = Layer.effect(Writer, make)
