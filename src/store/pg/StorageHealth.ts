/**
 * StorageHealth on PostgreSQL: the implementation of src/store/StorageHealth.ts. The room to
 * grow is not asked: PostgreSQL has no page limit of its own, and whether the disk under the
 * server can take another page is not something a client can cheaply tell (the server may be
 * on another machine). A full disk shows as a write failing with SQLSTATE class 53, which the
 * runtime already treats as transient (src/store/errors.ts).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { readPgMigrations } from "./migrate.js"
import { Writer } from "../Writer.js"
import { StorageHealth } from "../StorageHealth.js"

/** PostgreSQL's block size (BLCKSZ) as built by default. */
const pageSize = 8192

const make = Effect.gen(function* () {
  const writer = yield* Writer
  const sql = yield* SqlClient.SqlClient

  /** The migration this build brings: the highest of migrations/pg. */
  const buildVersion = readPgMigrations().reduce((max, f) => Math.max(max, f.id), 0)

  /**
   * A write transaction that takes a row lock, as a write would: a read-only transaction or a
   * standby refuses one (SQLSTATE 25006), where a plain read, or even taking a transaction id,
   * would pass. The row is the newest migration's, and its id is the database's version. KEY
   * SHARE, the weakest row lock: it waits for nothing Herald does. Never full: see the header.
   */
  const writable = writer.transaction(Effect.gen(function* () {
    const exists = yield* sql<{ t: string | null }>`SELECT to_regclass('herald_migrations')::TEXT AS t`
    // Not migrated (the runner creates the table before its first step): nothing to lock.
    const rows = exists[0]?.t == null
      ? []
      : yield* sql<{ v: number }>`SELECT migration_id AS v FROM herald_migrations ORDER BY migration_id DESC LIMIT 1 FOR KEY SHARE`
    return { version: rows[0]?.v ?? 0, pages: { pageSize, full: Option.none<string>() } }
  }))

  /** None: a full disk is a failing write (class 53), not something asked here. */
  const fullness = (_pages: Effect.Effect.Success<typeof writable>["pages"]) => Effect.succeed(Option.none<string>())

  return { buildVersion, writable, fullness } as const
})

/** StorageHealth on PostgreSQL. */
export const pgStorageHealth = Layer.effect(StorageHealth, make)
