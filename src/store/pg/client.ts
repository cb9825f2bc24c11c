/**
 * The PostgreSQL client layer (@effect/sql-pg) the PostgreSQL store runs on. BIGINT columns
 * (millisecond times, change sequence numbers, counts) come back as JavaScript numbers, as
 * they do from SQLite: every value Herald stores stays below 2^53 (see migrations/pg/0001).
 */
import { PgClient } from "@effect/sql-pg"
import { Redacted } from "effect"
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

/** SqlClient and PgClient on a pool for `options.url`, closed with the layer's scope. */
export const pgClientLayer = (options: PgOptions) =>
  PgClient.layer({
    url: Redacted.make(options.url),
    maxConnections: options.maxConnections,
    applicationName: options.applicationName ?? "herald",
    types
  })
