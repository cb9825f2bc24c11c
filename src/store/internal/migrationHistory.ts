/**
 * The rule a database's applied migrations must keep against this build's files, as a pure
 * function, for both engines; and a migration file's checksum. Reading the rows and running
 * migrations is each engine's runner's (sqlite/Migrations.ts, pg/migrate.ts).
 */
import { Option } from "effect"
import { createHash } from "node:crypto"
import { DatabaseTooNew, MigrationChanged, MigrationMissing } from "../../domain/errors.js"

/** A migration file of this build: its number, name and the SHA-256 of its text. */
export interface BuildMigration {
  readonly id: number
  readonly name: string
  readonly sha256: string
}

/** A migration the database has applied, with the checksum recorded for it, if any. */
export interface AppliedMigration {
  readonly id: number
  readonly name: string
  /** None for a migration applied by a build before checksums (0006), until this one adopts it. */
  readonly sha256: Option.Option<string>
}

export type HistoryProblem = DatabaseTooNew | MigrationChanged | MigrationMissing

/** `NNNN_name.sql` under `folder` (`""` for SQLite's files, `"pg/"` for PostgreSQL's), as the errors print it after `migrations/`. */
export const migrationFileName = (id: number, name: string, folder = "") => `${folder}${String(id).padStart(4, "0")}_${name}.sql`

/**
 * A migration file's SHA-256, with CRLF read as LF: git's autocrlf gives a Windows checkout
 * of the released file CRLF endings, which the database reads as the same statements. Any other
 * change, a comment or a blank line included, is an edit of a landed file.
 */
export const migrationChecksum = (text: string) => createHash("sha256").update(text.replace(/\r\n/g, "\n"), "utf8").digest("hex")

/**
 * The first problem, by migration number, or none when the database can be migrated: this
 * build's files are numbered 1..n without a hole, the applied ones are 1..k (k <= n), and each
 * applied one is this build's file by name and, where a checksum is recorded, by SHA-256.
 * Forward-only means a hole can never be filled: running 3 after 4 is not the schema 4 was
 * written against.
 */
export const checkHistory = (
  files: ReadonlyArray<BuildMigration>,
  applied: ReadonlyArray<AppliedMigration>,
  folder = ""
): Option.Option<HistoryProblem> => {
  const fileName = (id: number, name: string) => migrationFileName(id, name, folder)
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
        file: fileName(id, done ? done.name : "*"),
        missingFrom: "build",
        laterMigration: next(fileById.keys(), id),
        applied: done !== undefined
      }))
    }
    if (done === undefined) {
      if (id > databaseVersion) continue // not applied yet: this start runs it
      return Option.some(new MigrationMissing({ file: fileName(id, file.name), missingFrom: "database", laterMigration: next(appliedById.keys(), id), applied: false }))
    }
    if (done.name !== file.name) {
      return Option.some(new MigrationChanged({ file: fileName(id, file.name), appliedAs: fileName(id, done.name) }))
    }
    if (Option.isSome(done.sha256) && done.sha256.value !== file.sha256) {
      const name = fileName(id, file.name)
      return Option.some(new MigrationChanged({ file: name, appliedAs: name, recordedSha256: done.sha256.value, fileSha256: file.sha256 }))
    }
  }
  return Option.none()
}
