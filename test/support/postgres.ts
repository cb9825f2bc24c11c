/**
 * Test support for the PostgreSQL suites: each test file (or test) gets its own fresh database
 * on the throwaway server of postgresServer.ts (the vitest globalSetup), dropped afterwards, so
 * files running in parallel never see each other's rows.
 */
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import pg from "pg"
import { inject } from "vitest"
import { pgClientLayer } from "../../src/store/pg/client.js"

/** The throwaway server's `herald` database (a superuser URL). */
export const serverUrl = (): string => {
  const url = inject("heraldPgUrl")
  if (typeof url !== "string" || url === "") {
    throw new Error("herald: no throwaway PostgreSQL server: run the tests with vitest.config.ts (its globalSetup starts one)")
  }
  return url
}

const withDatabase = (url: string, database: string) => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

const admin = <A>(run: (client: pg.Client) => Promise<A>) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: serverUrl() })
    await client.connect()
    try {
      return await run(client)
    } finally {
      await client.end()
    }
  })

/** A new empty database `herald_<random>`; its URL. Dropped (connections and all) when the scope closes. */
export const freshDatabase = Effect.acquireRelease(
  Effect.gen(function* () {
    const name = `herald_${randomBytes(6).toString("hex")}`
    yield* admin((c) => c.query(`CREATE DATABASE ${name}`))
    return { name, url: withDatabase(serverUrl(), name) }
  }),
  ({ name }) => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
)

/** A pooled client on a fresh database, as SqlClient and PgClient; the database goes with the layer. */
export const freshDatabaseLayer = (maxConnections = 10) =>
  Layer.unwrapScoped(Effect.map(freshDatabase, ({ url }) => pgClientLayer({ url, maxConnections })))
