/**
 * The PostgreSQL migration runner on a real throwaway server: a fresh database gets every step
 * with its checksum, a second run changes nothing, concurrent starts migrate once, and a
 * database whose history this build cannot continue is refused and left as it was.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { migratePg, pgDatabaseVersion, readPgMigrations } from "../../src/store/pg/migrate.js"
import { readMigrations } from "../../src/store/sqlite/Migrations.js"
import { freshDatabaseLayer } from "../support/postgres.js"

const files = readPgMigrations()

const failureOf = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(self), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail"
      ? Effect.succeed(exit.cause.error as { _tag: string; message: string })
      : Effect.dieMessage(`expected a failure, got ${Exit.isSuccess(exit) ? "success" : String(exit.cause)}`))

const tables = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(sql<{ t: string }>`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`, (r) => r.map((x) => x.t)))

const history = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ id: number; name: string; sha256: string }>`SELECT migration_id AS id, name, sha256 FROM herald_migrations ORDER BY 1`)

describe("PostgreSQL migrations", () => {
  it("exist for every SQLite step, by number and name", () => {
    expect(files.map((f) => `${f.id}_${f.name}`)).toEqual(readMigrations().map((f) => `${f.id}_${f.name}`))
  })

  it.scoped("apply on a fresh database, each recorded with its SHA-256; a second run is a no-op", () =>
    Effect.gen(function* () {
      expect(yield* pgDatabaseVersion).toBe(0)
      const ran = yield* migratePg(files)
      expect(ran.map(([id]) => id)).toEqual(files.map((f) => f.id))
      expect(yield* pgDatabaseVersion).toBe(files.length)
      expect(yield* history).toEqual(files.map((f) => ({ id: f.id, name: f.name, sha256: f.sha256 })))
      expect(yield* tables).toEqual([
        "api_token", "change_log", "circuits", "consumer_offsets", "deliveries", "delivery_attempts",
        "delivery_count_deltas", "delivery_counts", "github_deliveries", "herald_migrations", "idempotency_keys",
        "notifications", "pr_checks", "pr_comments", "projects", "pull_requests", "reaction_budgets", "sessions", "settings"
      ])
      const before = yield* history
      expect(yield* migratePg(files)).toEqual([])
      expect(yield* history).toEqual(before)
    }).pipe(Effect.provide(freshDatabaseLayer())))

  it.scoped("an earlier build's database is brought forward from where it stopped", () =>
    Effect.gen(function* () {
      expect((yield* migratePg(files.filter((f) => f.id <= 4))).map(([id]) => id)).toEqual([1, 2, 3, 4])
      expect((yield* migratePg(files)).map(([id]) => id)).toEqual([5, 6, 7, 8, 9])
    }).pipe(Effect.provide(freshDatabaseLayer())))

  it.scoped("several processes starting at once migrate once (the advisory lock)", () =>
    Effect.gen(function* () {
      // Six concurrent runners on one pool of separate connections, as six processes would be.
      const runs = yield* Effect.all(Array.from({ length: 6 }, () => migratePg(files)), { concurrency: "unbounded" })
      const all = runs.flat().map(([id]) => id).sort((a, b) => a - b)
      expect(all).toEqual(files.map((f) => f.id))
      expect((yield* history).map((h) => h.id)).toEqual(files.map((f) => f.id))
    }).pipe(Effect.provide(freshDatabaseLayer(8))))

  it.scoped("a changed applied file is refused, naming the file, and nothing runs", () =>
    Effect.gen(function* () {
      yield* migratePg(files.filter((f) => f.id <= 7))
      const edited = files.map((f) => f.id === 3 ? { ...f, sha256: "0".repeat(64) } : f)
      const error = yield* failureOf(migratePg(edited))
      expect(error._tag).toBe("MigrationChanged")
      expect(error.message).toContain("migrations/pg/0003_lean_writes.sql differs")
      expect(yield* pgDatabaseVersion).toBe(7)
      const renamed = files.map((f) => f.id === 2 ? { ...f, name: "http" } : f)
      expect((yield* failureOf(migratePg(renamed)))._tag).toBe("MigrationChanged")
    }).pipe(Effect.provide(freshDatabaseLayer())))

  it.scoped("a database with a migration this build does not know, or a hole, is refused", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* migratePg(files)
      const older = yield* failureOf(migratePg(files.filter((f) => f.id <= 6)))
      expect(older._tag).toBe("DatabaseTooNew")
      expect(older.message).toContain("at migration 9 but this build of Herald knows migrations up to 6")
      yield* sql`DELETE FROM herald_migrations WHERE migration_id = 4`
      const hole = yield* failureOf(migratePg(files))
      expect(hole._tag).toBe("MigrationMissing")
      expect(hole.message).toContain("lacks migrations/pg/0004_idempotency_expiry.sql")
      const missingFile = yield* failureOf(migratePg(files.filter((f) => f.id !== 5)))
      expect(missingFile._tag).toBe("MigrationMissing")
    }).pipe(Effect.provide(freshDatabaseLayer())))

  it.scoped("a step that fails leaves its transaction undone and the earlier steps applied", () =>
    Effect.gen(function* () {
      const broken = files.map((f) => f.id === 5 ? { ...f, text: `${f.text}\nSELECT no_such_function();` } : f)
      const exit = yield* Effect.exit(migratePg(broken))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* pgDatabaseVersion).toBe(4)
      expect(yield* tables).not.toContain("delivery_counts")
      expect(yield* tables).toContain("idempotency_keys")
    }).pipe(Effect.provide(freshDatabaseLayer())))
})
