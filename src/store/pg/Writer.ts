/**
 * Writer on PostgreSQL: every write runs in a transaction on a pooled connection (READ
 * COMMITTED, PostgreSQL's default: the stores' fences and SKIP LOCKED claims are written for
 * it), run again when it loses a race (a serialization failure or a deadlock). A transaction on
 * the pool's own connections (an embedder's, through Herald's SqlClient) is the writer's: its
 * writes are savepoints in it. Transactions of another @effect/sql client (an embedder's own
 * database) are hidden from Herald's statements.
 *
 * Other processes' commits: every transaction this writer opens that wrote something sends NOTIFY
 * herald_commit with this process's id (PostgreSQL delivers it when the transaction commits, and
 * never if it rolls back); a listener counts the ones from other processes, and wakes the supervisor at once. The
 * supervisor's feed poll stays the fallback should the listening connection drop.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Schedule, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { makeWakeup } from "../../lib/Wakeup.js"
import { isPgRetryable, type SqlError } from "../errors.js"
import { hideForeignTransaction } from "../internal/ownTransaction.js"
import { Writer } from "../Writer.js"
import { ownsTransaction } from "./client.js"

/** A lost race is retried at once and then with jitter, for up to 10 s. */
const raceRetry = Schedule.exponential("5 millis").pipe(Schedule.jittered, Schedule.upTo("10 seconds"))

const channel = "herald_commit"

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const pg = yield* PgClient.PgClient
  const committed = yield* makeWakeup
  const owns = yield* ownsTransaction(pg)
  const me = randomUUID()
  let othersSeen = false
  let listening = true
  yield* pg.listen(channel).pipe(
    Stream.runForEach((from) => (from === me ? Effect.void : Effect.zipRight(Effect.sync(() => { othersSeen = true }), committed.notify))),
    Effect.catchAllCause((cause) =>
      Effect.zipRight(Effect.sync(() => { listening = false }), Effect.logWarning("listening for other processes' commits stopped; each feed poll now counts as one", cause))),
    Effect.forkScoped
  )

  const isolate = hideForeignTransaction(owns)

  const inTransaction = Effect.map(Effect.serviceOption(SqlClient.TransactionConnection), (outer) => Option.isSome(outer) && owns(outer.value))

  /** Inside a transaction this writer opened it is a savepoint, and a lost race is the outer transaction's to retry. */
  const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    isolate(Effect.flatMap(inTransaction, (nested) => {
      // Only a transaction that wrote (has a transaction id) tells the others: an empty claim
      // that notified woke every other process into an empty claim of its own, which notified
      // in turn: three idle processes committed 520 transactions a second between them.
      const body = nested ? effect : Effect.zipLeft(effect, sql`SELECT pg_notify(${channel}, ${me}) WHERE pg_current_xact_id_if_assigned() IS NOT NULL`)
      const run = sql.withTransaction(body)
      return nested ? run : Effect.retry(run, { schedule: raceRetry, while: isPgRetryable }).pipe(Effect.tap(() => committed.notify))
    }))

  const othersCommitted = Effect.sync(() => {
    const seen = othersSeen || !listening
    othersSeen = false
    return seen
  })

  return { transaction, committed, isolate, inTransaction, othersCommitted } as const
})

/** Writer on PostgreSQL. */
export const pgWriter = Layer.scoped(Writer, make)
