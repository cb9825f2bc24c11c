/**
 * Writer on PostgreSQL: every write runs in a transaction on a pooled connection (READ
 * COMMITTED, PostgreSQL's default: the stores' fences and SKIP LOCKED claims are written for
 * it), run again when it loses a race (a serialization failure or a deadlock). Transactions of
 * another @effect/sql client (an embedder's own database) are hidden from Herald's statements:
 * a fiber reference marks the transactions this writer opened.
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, FiberRef, Layer, Option, Schedule } from "effect"
import { makeWakeup } from "../../lib/Wakeup.js"
import { isPgRetryable, type SqlError } from "../errors.js"
import { Writer } from "../Writer.js"

/** A lost race is retried at once and then with jitter, for up to 10 s. */
const raceRetry = Schedule.exponential("5 millis").pipe(Schedule.jittered, Schedule.upTo("10 seconds"))

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const committed = yield* makeWakeup
  const ours = FiberRef.unsafeMake(false)

  const isolate = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(FiberRef.get(ours), (mine) =>
      mine ? effect : Effect.mapInputContext(effect, (ctx: Context.Context<R>) => Context.omit(SqlClient.TransactionConnection)(ctx) as Context.Context<R>))

  const inTransaction = Effect.zipWith(Effect.serviceOption(SqlClient.TransactionConnection), FiberRef.get(ours), (outer, mine) => Option.isSome(outer) && mine)

  /** Inside a transaction this writer opened it is a savepoint, and a lost race is the outer transaction's to retry. */
  const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    isolate(Effect.flatMap(inTransaction, (nested) => {
      const run = sql.withTransaction(Effect.locally(effect, ours, true))
      return nested ? run : Effect.retry(run, { schedule: raceRetry, while: isPgRetryable }).pipe(Effect.tap(() => committed.notify))
    }))

  // Until LISTEN/NOTIFY carries other processes' commits, every pass of the supervisor's feed
  // poll counts as one: the dispatcher looks for due work each feedPollMs (the polling fallback).
  const othersCommitted = Effect.succeed(true)

  return { transaction, committed, isolate, inTransaction, othersCommitted } as const
})

/** Writer on PostgreSQL. */
export const pgWriter = Layer.effect(Writer, make)
