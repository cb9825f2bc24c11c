/**
 * The rule a PostgreSQL database's applied migrations must keep against this build's
 * migrations/pg files, as a pure function: a copy of src/layers/internal/migrationHistory.ts
 * naming files under `pg/` (to be shared once the stores move). Reading rows is migrate.ts's.
 */
import { Option } from "effect"
import { DatabaseTooNew, MigrationChanged, MigrationMissing } from "../../../domain/errors.js"

/** A migration file of this build: its number, name and the SHA-256 of its text. */
export interface BuildMigration {
  readonly id: number
  readonly name: string
  readonly sha256: string
}

/** A migration the database has applied, with its recorded checksum (always recorded on PostgreSQL). */
export interface AppliedMigration {
  readonly id: number
  readonly name: string
  readonly sha256: string
}

export type HistoryProblem = DatabaseTooNew | MigrationChanged | MigrationMissing

/** `pg/NNNN_name.sql`, as the errors print it after `migrations/`. */
export const migrationFileName = (id: number, name: string) => `pg/${String(id).padStart(4, "0")}_${name}.sql`

/**
 * The first problem, by migration number, or none when the database can be migrated: this
 * build's files are numbered 1..n without a hole, the applied ones are 1..k (k <= n), and each
 * applied one is this build's file by name and SHA-256. Forward-only means a hole can never be
 * filled: running 3 after 4 is not the schema 4 was written against.
 */
export const checkHistory = (
  files: ReadonlyArray<BuildMigration>,
  applied: ReadonlyArray<AppliedMigration>
): Option.Option<HistoryProblem> => {
  const buildVersion = files.reduce((max, f) => Math.max(max, f.id), 0)
  const databaseVersion = applied.reduce((max, m) => Math.max(max, m.id), 0)
  if (databaseVersion > buildVersion) return Option.some(new DatabaseTooNew({ databaseVersion, buildVersion }))
  const fileById = new Map(files.map((f) => [f.id, f]))
  const appliedById = new Map(applied.map((m) => [m.id, m]))
  const next = (ids: Iterable<number>, after: number) => Math.min(...[...ids].filter((id) => id > after))
  for (let id = 1; id <= buildVersion; id++) {
    const file = fileById.get(id)
    const done = appliedById.get(id)
    if (file === undefined) {
      return Option.some(new MigrationMissing({
        file: done ? migrationFileName(id, done.name) : `pg/${String(id).padStart(4, "0")}_*.sql`,
        missingFrom: "build",
        laterMigration: next(fileById.keys(), id),
        applied: done !== undefined
      }))
    }
    if (done === undefined) {
      if (id > databaseVersion) continue // not applied yet: this start runs it
      return Option.some(new MigrationMissing({ file: migrationFileName(id, file.name), missingFrom: "database", laterMigration: next(appliedById.keys(), id), applied: false }))
    }
    if (done.name !== file.name) {
      return Option.some(new MigrationChanged({ file: migrationFileName(id, file.name), appliedAs: migrationFileName(id, done.name) }))
    }
    if (done.sha256 !== file.sha256) {
      const name = migrationFileName(id, file.name)
      return Option.some(new MigrationChanged({ file: name, appliedAs: name, recordedSha256: done.sha256, fileSha256: file.sha256 }))
    }
  }
  return Option.none()
}
