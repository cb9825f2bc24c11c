/**
 * The PostgreSQL client layer (@effect/sql-pg) the PostgreSQL store runs on, on a pool of its
 * own so that a transaction can be told to be on it (ownsTransaction). BIGINT columns
 * (millisecond times, change sequence numbers, counts) come back as JavaScript numbers, as
 * they do from SQLite: every value Herald stores stays below 2^53 (see migrations/pg/0001).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer } from "effect"
import pg from "pg"

const int8 = 20

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === int8 && format !== "binary" ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"]
}

export interface PgOptions {
  /** `postgres://user:password@host:port/database` */
  readonly url: string
  /** The pool's size; PostgreSQL gives each connection its own process. */
  readonly maxConnections?: number | undefined
  readonly applicationName?: string | undefined
}

/** Per client of pgClientLayer: whether a SqlClient.TransactionConnection is on its pool's connections. */
const owners = new WeakMap<PgClient.PgClient, (transactionConnection: unknown) => boolean>()

/**
 * Whether a transaction is on `client`'s own pool: one opened through Herald's SqlClient (by
 * Herald, or by an embedder) is, one of another @effect/sql client is not. Only for clients of
 * pgClientLayer (a defect otherwise: the writer could not tell its transactions apart).
 */
export const ownsTransaction = (client: PgClient.PgClient) =>
  Effect.suspend(() => {
    const owns = owners.get(client)
    return owns === undefined ? Effect.dieMessage("herald: the PostgreSQL client was not made by pgClientLayer") : Effect.succeed(owns)
  })

/** SqlClient and PgClient on a pool for `options.url`, closed with the layer's scope. */
export const pgClientLayer = (options: PgOptions) => {
  const connections = new WeakSet<pg.PoolClient>()
  const pool = Effect.acquireRelease(
    Effect.gen(function* () {
      const pool = new pg.Pool({
        connectionString: options.url,
        max: options.maxConnections,
        application_name: options.applicationName ?? "herald",
        types
      })
      pool.on("connect", (client) => connections.add(client))
      // An idle connection's error (the server went away) surfaces on the next query instead.
      pool.on("error", () => {})
      // Fail at startup, as PgClient.make does, instead of at the first query.
      yield* Effect.tryPromise({
        try: () => pool.query("SELECT 1"),
        catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
      }).pipe(Effect.tapError(() => Effect.promise(() => pool.end())))
      return pool
    }),
    (pool) => Effect.promise(() => pool.end()).pipe(Effect.interruptible, Effect.timeoutOption(1_000))
  )
  // A transaction connection is [connection, depth]; @effect/sql-pg's connection keeps its
  // pooled client as `pg` (its own field, not part of the Connection interface).
  const owns = (tc: unknown) => {
    const connection: unknown = Array.isArray(tc) ? tc[0] : undefined
    const client = typeof connection === "object" && connection !== null ? (connection as { readonly pg?: unknown }).pg : undefined
    return typeof client === "object" && client !== null && connections.has(client as pg.PoolClient)
  }
  return Layer.scopedContext(Effect.gen(function* () {
    const client = yield* PgClient.fromPool({ acquire: pool, applicationName: options.applicationName ?? "herald", types })
    owners.set(client, owns)
    return Context.make(PgClient.PgClient, client).pipe(Context.add(SqlClient.SqlClient, client))
  })).pipe(Layer.provide(Reactivity.layer))
}
