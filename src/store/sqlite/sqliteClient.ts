/**
 * An @effect/sql client over one better-sqlite3 connection that also hands out the
 * connection itself. It follows @effect/sql-sqlite-node's `SqliteClient.make`, which keeps
 * its handle private; Herald needs the handle so the writer's hot batch loops (hundreds of
 * rows per transaction) run prepared statements directly, on the same connection and so
 * inside the same transaction, instead of paying the Effect statement pipeline per row.
 */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import Sqlite from "better-sqlite3"
import type * as Reactivity from "@effect/experimental/Reactivity"
import { Effect, Scope } from "effect"

export interface SqliteOptions {
  readonly filename: string
  readonly readonly?: boolean
  /** Statements kept prepared (least recently used are dropped). */
  readonly prepareCacheSize: number
}

/** A small LRU of prepared statements, keyed by SQL text. */
const statementCache = (db: Sqlite.Database, capacity: number) => {
  const cache = new Map<string, Sqlite.Statement>()
  return (sql: string): Sqlite.Statement => {
    let s = cache.get(sql)
    if (s !== undefined) {
      cache.delete(sql)
      cache.set(sql, s)
      return s
    }
    s = db.prepare(sql)
    cache.set(sql, s)
    if (cache.size > capacity) cache.delete(cache.keys().next().value!)
    return s
  }
}

export interface OpenedSqlite {
  readonly client: SqlClient.SqlClient
  readonly db: Sqlite.Database
  readonly prepare: (sql: string) => Sqlite.Statement
  /** The client's one connection: what its transactions put under SqlClient.TransactionConnection. */
  readonly connection: object
}

const failed = (cause: unknown, message: string) => new SqlError({ cause, message })

/** Opens the connection (closed with the scope) and builds the client over it. */
export const makeSqlite = (options: SqliteOptions): Effect.Effect<OpenedSqlite, never, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function* () {
    const db = new Sqlite(options.filename, { readonly: options.readonly ?? false })
    yield* Effect.addFinalizer(() => Effect.sync(() => db.close()))
    const prepare = statementCache(db, options.prepareCacheSize)

    const run = (statement: Sqlite.Statement, params: ReadonlyArray<unknown>, raw: boolean) =>
      Effect.try({
        try: () => (statement.reader ? statement.all(...params) : raw ? statement.run(...params) : (statement.run(...params), [])),
        catch: (cause) => failed(cause, "Failed to execute statement")
      })
    const prepared = (sql: string) => Effect.try({ try: () => prepare(sql), catch: (cause) => failed(cause, "Failed to prepare statement") })

    const connection = {
      execute: (sql: string, params: ReadonlyArray<unknown>, transformRows?: (rows: ReadonlyArray<any>) => ReadonlyArray<any>) =>
        Effect.flatMap(prepared(sql), (s) => Effect.map(run(s, params, false), (rows) => (transformRows ? transformRows(rows as ReadonlyArray<unknown>) : rows))),
      executeRaw: (sql: string, params: ReadonlyArray<unknown>) => Effect.flatMap(prepared(sql), (s) => run(s, params, true)),
      executeValues: (sql: string, params: ReadonlyArray<unknown>) =>
        Effect.flatMap(prepared(sql), (s) =>
          Effect.try({
            try: () => (s.reader ? s.raw(true).all(...params) : (s.run(...params), [])),
            catch: (cause) => failed(cause, "Failed to execute statement")
          }).pipe(Effect.ensuring(Effect.sync(() => s.reader && s.raw(false))))),
      executeUnprepared: (sql: string, params: ReadonlyArray<unknown> | undefined, transformRows?: (rows: ReadonlyArray<any>) => ReadonlyArray<any>) =>
        // A BEGIN that failed (busy) opened nothing, but @effect/sql rolls back after any failure:
        // that ROLLBACK is a no-op here, so the busy error stays a retryable error, not a defect.
        sql === "ROLLBACK" && !db.inTransaction ? Effect.succeed([]) : Effect.flatMap(Effect.try({ try: () => db.prepare(sql), catch: (cause) => failed(cause, "Failed to prepare statement") }), (s) =>
          Effect.map(run(s, params ?? [], false), (rows) => (transformRows ? transformRows(rows as ReadonlyArray<unknown>) : rows))),
      executeStream: () => Effect.dieMessage("executeStream is not supported on SQLite")
    }

    // One connection: a semaphore serialises statements and whole transactions on it.
    const semaphore = yield* Effect.makeSemaphore(1)
    const acquirer = semaphore.withPermits(1)(Effect.succeed(connection))
    const transactionAcquirer = Effect.uninterruptibleMask((restore) =>
      Effect.as(
        Effect.zipRight(restore(semaphore.take(1)), Effect.tap(Effect.scope, (scope) => Scope.addFinalizer(scope, semaphore.release(1)))),
        connection
      ))
    const client = yield* SqlClient.make({
      acquirer: acquirer as never,
      transactionAcquirer: transactionAcquirer as never,
      // Takes the write lock at once: a busy database fails at BEGIN, where retrying is safe,
      // never halfway through (a deferred transaction's first write can fail and not recover).
      beginTransaction: "BEGIN IMMEDIATE",
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: [["db.system.name", "sqlite"]]
    })
    return { client, db, prepare, connection } as const
  })
