/**
 * Runs the `migrations/NNNN_name.sql` files, forward-only, one statement at a time, and
 * records each applied file's SHA-256. Refuses a database that carries a migration this
 * build does not know, one whose applied file has changed since, or one with a hole
 * (the rule is internal/migrationHistory.ts).
 */
import { Migrator, SqlClient, SqlSchema } from "@effect/sql"
import { retryWhileBusy } from "./Writer.js"
import { Clock, Data, Effect, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { StorageUnavailable } from "../../domain/errors.js"
import { DatabaseOptionsTag } from "./Sqlite.js"
import { type AppliedMigration, checkHistory, migrationChecksum } from "../internal/migrationHistory.js"
import { splitSql } from "./splitSql.js"

/** The package's `migrations/` folder: the nearest one above this module (from src/, dist/ or a bench build). */
export const migrationsDir = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(dir, "migrations")
    if (fs.existsSync(path.join(candidate, "0001_core.sql"))) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error("Herald's migrations/ folder was not found beside its code: reinstall the package")
    dir = parent
  }
})()

const table = "effect_sql_migrations"
/** Created by 0006_migration_checksums.sql: absent from a database an earlier build made. */
const checksumTable = "herald_migrations"

export interface MigrationFile {
  readonly id: number
  readonly name: string
  readonly statements: ReadonlyArray<string>
  /** Of the file's text with CRLF read as LF (migrationChecksum). */
  readonly sha256: string
}


export const readMigrations = (dir: string = migrationsDir): Array<MigrationFile> =>
  fs.readdirSync(dir)
    .flatMap((file) => {
      const m = /^(\d{4})_([A-Za-z0-9_]+)\.sql$/.exec(file)
      if (!m) return []
      const text = fs.readFileSync(path.join(dir, file), "utf8")
      return [{ id: Number(m[1]), name: m[2]!, statements: splitSql(text), sha256: migrationChecksum(text) }]
    })
    .sort((a, b) => a.id - b.id)

const tableExists = (name: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${name}`, (rows) => rows[0]!.n > 0))

const AppliedRow = Schema.Struct({ id: Schema.Number, name: Schema.String, sha256: Schema.OptionFromNullOr(Schema.String) })

/** The migrations the database has applied, each with its recorded checksum (none before 0006). */
const readApplied = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  if (!(yield* tableExists(table))) return []
  const checksums = yield* tableExists(checksumTable)
  const rows = SqlSchema.findAll({
    Request: Schema.Void,
    Result: AppliedRow,
    execute: () =>
      checksums
        ? sql`SELECT m.migration_id AS id, m.name, c.sha256 FROM ${sql(table)} m LEFT JOIN ${sql(checksumTable)} c USING (migration_id) ORDER BY m.migration_id`
        : sql`SELECT migration_id AS id, name, NULL AS sha256 FROM ${sql(table)} ORDER BY migration_id`
  })
  // A row that does not decode is a damaged migrations table, not an input to report.
  return yield* Effect.orDie(rows(undefined))
}) satisfies Effect.Effect<ReadonlyArray<AppliedMigration>, unknown, SqlClient.SqlClient>

/**
 * Records the checksum of each migration that ran now ('applied') and of each applied earlier
 * without one ('adopted': the file as this build has it is trusted, on first use). Skipped
 * while the table does not exist, as when a test migrates with the files of an earlier build.
 */
const recordChecksums = (
  files: ReadonlyArray<MigrationFile>,
  before: ReadonlyArray<AppliedMigration>,
  ran: ReadonlyArray<readonly [id: number, name: string]>
) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const ranNow = new Set(ran.map(([id]) => id))
    const unrecorded = new Set(before.filter((m) => Option.isNone(m.sha256)).map((m) => m.id))
    const now = yield* Clock.currentTimeMillis
    const rows = files
      .filter((f) => ranNow.has(f.id) || unrecorded.has(f.id))
      .map((f) => ({ migration_id: f.id, name: f.name, sha256: f.sha256, recorded_as: ranNow.has(f.id) ? "applied" : "adopted", recorded_at: now }))
    if (rows.length === 0 || !(yield* tableExists(checksumTable))) return
    yield* sql`INSERT INTO ${sql(checksumTable)} ${sql.insert(rows)}`
  })

/** The newest migration recorded in the database (0 for a new file). */
export const databaseVersion = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  if (!(yield* tableExists(table))) return 0
  const rows = yield* sql<{ v: number | null }>`SELECT max(migration_id) AS v FROM ${sql(table)}`
  return rows[0]!.v ?? 0
})

const migrator = Migrator.make({})

/**
 * Migrates to this build's newest version; returns the migrations it ran. The check, the
 * migrations and their checksums are one write transaction: a refused database is left as it
 * was, and from 0006 on no migration is recorded as applied without its checksum.
 */
export const migrate = (files: ReadonlyArray<MigrationFile> = readMigrations()) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const buildVersion = files.reduce((max, f) => Math.max(max, f.id), 0)
    const record = Object.fromEntries(
      files.map((f) => [
        `${f.id}_${f.name}`,
        Effect.forEach(f.statements, (s) => sql.unsafe(s), { discard: true })
      ])
    )
    const once = sql.withTransaction(Effect.gen(function* () {
      const applied = yield* readApplied
      const problem = checkHistory(files, applied)
      if (Option.isSome(problem)) return yield* problem.value
      // The Migrator answers "nothing to run" when its own insert fails (it takes that for
      // another migrator): it is done only when the database says so. Another process holding
      // the write lock (a second Herald starting, a backup) fails BEGIN IMMEDIATE busy: waited
      // for, then reported.
      const ran = yield* migrator({ loader: Migrator.fromRecord(record), table })
      const now = yield* databaseVersion
      if (now < buildVersion) return yield* new MigrationsLocked({ now, buildVersion })
      yield* recordChecksums(files, applied, ran)
      return ran
    }))
    return yield* retryWhileBusy(once, (e) => e instanceof MigrationsLocked).pipe(
      Effect.catchIf((e): e is MigrationsLocked => e instanceof MigrationsLocked, (e) =>
        Effect.flatMap(Effect.serviceOption(DatabaseOptionsTag), (options) =>
          new StorageUnavailable({
            path: Option.match(options, { onNone: () => "", onSome: (o) => o.filename }),
            reason: `migrations stopped at version ${e.now} of ${e.buildVersion}: another process kept the write lock for 30 s; stop it and start again`
          })))
    )
  }).pipe(Effect.withSpan("Migrations.migrate"))

class MigrationsLocked extends Data.TaggedError("MigrationsLocked")<{ readonly now: number; readonly buildVersion: number }> {}
