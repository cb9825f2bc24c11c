/**
 * Runs the `migrations/pg/NNNN_name.sql` files on PostgreSQL, forward-only, each in its own
 * transaction, and records each applied file's SHA-256 in `herald_migrations`. Refuses a
 * database that carries a migration this build does not know, one whose applied file has
 * changed since, or one with a hole (the rule is internal/migrationHistory.ts). Several
 * processes starting at once migrate once: each step holds a transaction-scoped advisory lock.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type AppliedMigration, checkHistory, type HistoryProblem, migrationChecksum } from "../internal/migrationHistory.js"

/** The package's `migrations/pg/` folder: the nearest one above this module (from src/, dist/ or a bench build). */
export const pgMigrationsDir = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(dir, "migrations", "pg")
    if (fs.existsSync(path.join(candidate, "0001_core.sql"))) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error("Herald's migrations/pg/ folder was not found beside its code: reinstall the package")
    dir = parent
  }
})()

export interface PgMigrationFile {
  readonly id: number
  readonly name: string
  /** The whole file, run as one simple-protocol query: PL/pgSQL bodies hold semicolons. */
  readonly text: string
  /** Of the file's text with CRLF read as LF, as for SQLite's files. */
  readonly sha256: string
}


export const readPgMigrations = (dir: string = pgMigrationsDir): Array<PgMigrationFile> =>
  fs.readdirSync(dir)
    .flatMap((file) => {
      const m = /^(\d{4})_([A-Za-z0-9_]+)\.sql$/.exec(file)
      if (!m) return []
      const text = fs.readFileSync(path.join(dir, file), "utf8")
      return [{ id: Number(m[1]), name: m[2]!, text, sha256: migrationChecksum(text) }]
    })
    .sort((a, b) => a.id - b.id)

/**
 * The runner's own table, there before 0001 runs so every step is recorded with its checksum
 * from the first (0006_migration_checksums.sql adds its CHECK). The columns are SQLite's
 * herald_migrations, less `recorded_as`: nothing on PostgreSQL predates checksums.
 */
const createHistoryTable = `CREATE TABLE IF NOT EXISTS herald_migrations (
  migration_id  INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL,
  sha256        TEXT    NOT NULL,
  recorded_at   BIGINT  NOT NULL
)`

/**
 * One key for every Herald on the database: a process that waits for it finds the step done.
 * Transaction-scoped, so a process that dies mid-step releases it with its connection.
 */
const lockMigrations = (sql: SqlClient.SqlClient) => sql`SELECT pg_advisory_xact_lock(hashtextextended('herald/migrations', 0))`

/** Every applied migration; PostgreSQL's runner records each one's checksum from the start. */
const readApplied = (sql: SqlClient.SqlClient) =>
  sql<{ id: number; name: string; sha256: string }>`SELECT migration_id AS id, name, sha256 FROM herald_migrations ORDER BY migration_id`.pipe(
    Effect.map((rows) => rows.map((r): AppliedMigration => ({ ...r, sha256: Option.some(r.sha256) })))
  )

/** The newest migration recorded in the database (0 for a new one). */
export const pgDatabaseVersion = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const exists = yield* sql<{ t: string | null }>`SELECT to_regclass('herald_migrations')::TEXT AS t`
  if (exists[0]?.t == null) return 0
  const rows = yield* sql<{ v: number | null }>`SELECT max(migration_id) AS v FROM herald_migrations`
  return rows[0]?.v ?? 0
})

const inTransaction = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(self))

/**
 * One step, in one transaction under the lock: check the whole history, then run the lowest
 * migration not applied yet and record it. None when there is nothing left to run. A refused
 * database is left as it was (the check comes before any step).
 */
const step = (files: ReadonlyArray<PgMigrationFile>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* lockMigrations(sql)
    yield* sql.unsafe(createHistoryTable)
    const applied = yield* readApplied(sql)
    const problem = checkHistory(files, applied, "pg/")
    if (Option.isSome(problem)) return yield* Effect.fail(problem.value)
    const done = new Set(applied.map((m) => m.id))
    const next = files.find((f) => !done.has(f.id))
    if (next === undefined) return Option.none<PgMigrationFile>()
    yield* sql.unsafe(next.text)
    const now = yield* Clock.currentTimeMillis
    yield* sql`INSERT INTO herald_migrations ${sql.insert({ migration_id: next.id, name: next.name, sha256: next.sha256, recorded_at: now })}`
    return Option.some(next)
  }).pipe(inTransaction)

/**
 * Migrates to this build's newest version; returns the migrations this call ran, in order
 * (none when another process ran them, or they were already applied).
 */
export const migratePg = (
  files: ReadonlyArray<PgMigrationFile> = readPgMigrations()
): Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, HistoryProblem | SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const ran: Array<readonly [number, string]> = []
    for (;;) {
      const next = yield* step(files)
      if (Option.isNone(next)) return ran
      ran.push([next.value.id, next.value.name])
    }
  }).pipe(Effect.withSpan("PgMigrations.migrate"))
