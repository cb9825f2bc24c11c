/**
 * Runs the `migrations/NNNN_name.sql` files, forward-only, one statement at a time, and
 * refuses a database that carries a migration this build does not know.
 */
import { Migrator, SqlClient } from "@effect/sql"
import { retryWhileBusy } from "../services/Writer.js"
import { Data, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { DatabaseTooNew, StorageUnavailable } from "../domain/errors.js"
import { DatabaseOptionsTag } from "./Sqlite.js"
import { splitSql } from "./internal/splitSql.js"

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

export interface MigrationFile {
  readonly id: number
  readonly name: string
  readonly statements: ReadonlyArray<string>
}

export const readMigrations = (dir: string = migrationsDir): Array<MigrationFile> =>
  fs.readdirSync(dir)
    .flatMap((file) => {
      const m = /^(\d{4})_([A-Za-z0-9_]+)\.sql$/.exec(file)
      if (!m) return []
      return [{ id: Number(m[1]), name: m[2]!, statements: splitSql(fs.readFileSync(`${dir}/${file}`, "utf8")) }]
    })
    .sort((a, b) => a.id - b.id)

/** The newest migration recorded in the database (0 for a new file). */
export const databaseVersion = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const exists = yield* sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${table}`
  if (exists[0]!.n === 0) return 0
  const rows = yield* sql<{ v: number | null }>`SELECT max(migration_id) AS v FROM ${sql(table)}`
  return rows[0]!.v ?? 0
})

const migrator = Migrator.make({})

/** Migrates to this build's newest version; returns the migrations it ran. */
export const migrate = (files: ReadonlyArray<MigrationFile> = readMigrations()) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const buildVersion = files.reduce((max, f) => Math.max(max, f.id), 0)
    const current = yield* databaseVersion
    if (current > buildVersion) {
      return yield* new DatabaseTooNew({ databaseVersion: current, buildVersion })
    }
    const record = Object.fromEntries(
      files.map((f) => [
        `${f.id}_${f.name}`,
        Effect.forEach(f.statements, (s) => sql.unsafe(s), { discard: true })
      ])
    )
    // The Migrator answers "nothing to run" when it finds the lock taken (it takes that for
    // another migrator): it is done only when the database says so. Another process holding
    // the write lock (a second Herald starting, a backup) is waited for, then reported.
    const once = Effect.flatMap(migrator({ loader: Migrator.fromRecord(record), table }), (ran) =>
      Effect.flatMap(databaseVersion, (now) => (now < buildVersion ? Effect.fail(new MigrationsLocked({ now, buildVersion })) : Effect.succeed(ran))))
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
