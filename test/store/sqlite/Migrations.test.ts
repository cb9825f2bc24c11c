import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Exit, Fiber, Layer, TestClock } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseTooNew, StorageUnavailable } from "../../../src/domain/errors.js"
import { Herald } from "../../../src/layers/Herald.js"
import { databaseVersion, migrate, migrationsDir, readMigrations } from "../../../src/store/sqlite/Migrations.js"
import { splitSql } from "../../../src/store/sqlite/splitSql.js"
import { writerLayer } from "../../../src/store/sqlite/Sqlite.js"
import { tempDb, tempDir } from "../../support/herald.js"

/** A copy of this build's migrations/ in `dir`, to edit, rename or delete files in. */
const copyMigrations = (dir: string) => {
  const copy = path.join(dir, "migrations")
  fs.mkdirSync(copy)
  for (const f of fs.readdirSync(migrationsDir).filter((f) => f.endsWith(".sql"))) fs.copyFileSync(path.join(migrationsDir, f), path.join(copy, f))
  return copy
}

const query = <A extends object>(db: string, text: string, ...params: Array<unknown>) => {
  const raw = new Database(db)
  try {
    return raw.prepare(text).all(...params) as Array<A>
  } finally {
    raw.close()
  }
}

const run = (db: string, text: string, ...params: Array<unknown>) => {
  const raw = new Database(db)
  try {
    raw.prepare(text).run(...params)
  } finally {
    raw.close()
  }
}

/** The start's failure, or a test failure if it started. */
const startFailure = (db: string) =>
  Effect.flatMap(Effect.exit(Effect.scoped(Layer.build(Herald.layer({ database: db, runtime: { background: false } })))), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail"
      ? Effect.succeed(exit.cause.error as { _tag: string; message: string })
      : Effect.dieMessage(`expected the start to fail, got ${Exit.isSuccess(exit) ? "a running Herald" : String(exit.cause)}`))

describe("splitSql", () => {
  it("keeps trigger bodies whole and splits everything else on semicolons", () => {
    const s = splitSql(`
      CREATE TABLE a (x TEXT DEFAULT ';'); -- a comment; with a semicolon
      /* block; comment */
      CREATE TRIGGER t AFTER INSERT ON a BEGIN
        INSERT INTO b VALUES (CASE WHEN NEW.x = 'END;' THEN 1 ELSE 2 END);
        UPDATE c SET y = 1;
      END;
      INSERT INTO a VALUES ('it''s; fine');`)
    expect(s).toHaveLength(3)
    expect(s[1]).toMatch(/^CREATE TRIGGER t[\s\S]*UPDATE c SET y = 1;\s*END$/)
    expect(s[2]).toBe("INSERT INTO a VALUES ('it''s; fine')")
  })

  it("splits the real migration files into statements SQLite accepts one by one", () => {
    const files = readMigrations()
    expect(files.length).toBeGreaterThan(0)
    const triggers = files.flatMap((f) => f.statements).filter((s) => /^CREATE TRIGGER/i.test(s))
    expect(triggers.length).toBeGreaterThanOrEqual(6)
    for (const t of triggers) expect(t).toMatch(/END$/)
  })
})

describe("migrations", () => {
  it.scoped("another process holding the write lock is waited for on the clock, then every migration runs", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const files = readMigrations()
      const layer = writerLayer({ filename: db })
      yield* Effect.provide(migrate(files.slice(0, 2)), layer)
      const other = new Database(db)
      other.exec("BEGIN IMMEDIATE")
      const upgrade = yield* Effect.fork(Effect.provide(Effect.zipRight(migrate(files), databaseVersion), layer))
      yield* TestClock.adjust("5 seconds")
      expect(upgrade.unsafePoll()).toBeNull()
      other.exec("COMMIT")
      other.close()
      for (let i = 0; i < 10 && upgrade.unsafePoll() === null; i++) {
        yield* TestClock.adjust("1 second")
        yield* Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
      }
      expect(yield* Fiber.join(upgrade)).toBe(files[files.length - 1]!.id)
    }))

  it.scoped("a fresh file is migrated to this build's newest version, and a second run does nothing", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const layer = writerLayer({ filename: db })
      const first = yield* Effect.provide(migrate(), layer)
      expect(first.map(([id]) => id)).toEqual(readMigrations().map((f) => f.id))
      const second = yield* Effect.provide(migrate(), layer)
      expect(second).toEqual([])
    }))

  it.scoped("0003 rebuilds change_log keeping every row and sequence number; new changes continue after the last", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const layer = writerLayer({ filename: db })
      const [v1, v2, ...later] = readMigrations()
      yield* Effect.provide(migrate([v1!, v2!]), layer)
      const rows = (sql: SqlClient.SqlClient) => sql<{ seq: number; entity: string; event: string }>`SELECT seq, entity, event FROM change_log ORDER BY seq`
      const before = yield* Effect.provide(Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.gen(function* () {
        yield* sql`INSERT INTO settings (id, document, version, updated_at) VALUES (1, '{}', 1, 1)`
        yield* sql`UPDATE settings SET document = '{"enabled":false}', version = 2`
        return yield* rows(sql)
      })), layer)
      expect(before.map((r) => r.seq)).toEqual([1, 2])
      yield* Effect.provide(migrate([v1!, v2!, ...later]), layer)
      const after = yield* Effect.provide(Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.gen(function* () {
        yield* sql`UPDATE settings SET document = '{"enabled":true}', version = 3`
        return yield* rows(sql)
      })), layer)
      expect(after).toEqual([...before, { seq: 3, entity: "settings", event: "updated" }])
    }))

  it.scoped("a database carrying a migration this build does not know is refused, naming both versions", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const layer = writerLayer({ filename: db })
      yield* Effect.provide(migrate(), layer)
      const newest = Math.max(...readMigrations().map((f) => f.id))
      yield* Effect.provide(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO effect_sql_migrations (migration_id, name) VALUES (${newest + 1}, 'future')`),
        layer
      )
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(Herald.layer({ database: db }))))
      expect(exit).toStrictEqual(Exit.fail(new DatabaseTooNew({ databaseVersion: newest + 1, buildVersion: newest })))
      const error = new DatabaseTooNew({ databaseVersion: newest + 1, buildVersion: newest })
      expect(error.message).toContain(`migration ${newest + 1}`)
      expect(error.message).toContain(`up to ${newest}`)
    }))

  it.scoped("an unusable path fails with StorageUnavailable saying what to do", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(Herald.layer({ database: path.join(dir, "missing", "x.db") }))))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const e = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(e).toBeInstanceOf(StorageUnavailable)
        expect((e as StorageUnavailable).message).toContain("does not exist")
      }
    }))

  it("migration files are numbered NNNN_name.sql and none is missing from the sequence", () => {
    const names = fs.readdirSync(migrationsDir).filter((f) => f.endsWith(".sql")).sort()
    names.forEach((n, i) => expect(n.startsWith(String(i + 1).padStart(4, "0") + "_")).toBe(true))
  })

  it.scoped("an applied migration whose file was edited is refused, naming the file and what to do, and nothing later runs", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const layer = writerLayer({ filename: db })
      yield* Effect.provide(migrate(), layer)
      const version = yield* Effect.provide(databaseVersion, layer)
      const copy = copyMigrations(yield* tempDir)
      fs.appendFileSync(path.join(copy, "0003_lean_writes.sql"), "\nCREATE INDEX sneaky ON notifications (kind);\n")
      const next = String(version + 1).padStart(4, "0")
      fs.writeFileSync(path.join(copy, `${next}_later.sql`), "CREATE TABLE later (x INTEGER);\n")
      const error = yield* Effect.flip(Effect.provide(migrate(readMigrations(copy)), layer))
      expect(error._tag).toBe("MigrationChanged")
      expect(error.message).toMatch(/^migrations\/0003_lean_writes\.sql differs from the file this database was migrated with .*: restore the file as released .*; a schema change goes in a new migration$/)
      expect(yield* Effect.provide(databaseVersion, layer)).toBe(version)
      expect(query(db, "SELECT name FROM sqlite_master WHERE name IN ('later', 'sneaky')")).toEqual([])
    }))

  it.scoped("a renamed applied migration is refused, naming both file names", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const layer = writerLayer({ filename: db })
      yield* Effect.provide(migrate(), layer)
      const copy = copyMigrations(yield* tempDir)
      fs.renameSync(path.join(copy, "0004_idempotency_expiry.sql"), path.join(copy, "0004_idempotency_ttl.sql"))
      const error = yield* Effect.flip(Effect.provide(migrate(readMigrations(copy)), layer))
      expect(error._tag).toBe("MigrationChanged")
      expect(error.message).toContain("migrations/0004_idempotency_ttl.sql is not the migration this database applied as 0004_idempotency_expiry.sql")
    }))

  it.scoped("a file whose line endings became CRLF (a Windows checkout) is still the migration that was applied", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const layer = writerLayer({ filename: db })
      yield* Effect.provide(migrate(), layer)
      const copy = copyMigrations(yield* tempDir)
      for (const f of fs.readdirSync(copy)) {
        fs.writeFileSync(path.join(copy, f), fs.readFileSync(path.join(copy, f), "utf8").replace(/\n/g, "\r\n"))
      }
      expect(yield* Effect.provide(migrate(readMigrations(copy)), layer)).toEqual([])
    }))

  it.scoped("a database from a build before checksums has them recorded from this build's files on first start, then is checked", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const layer = writerLayer({ filename: db })
      const files = readMigrations()
      const checksummed = files.find((f) => f.name === "migration_checksums")!.id
      yield* Effect.provide(migrate(files.filter((f) => f.id < checksummed)), layer)
      expect(query(db, "SELECT name FROM sqlite_master WHERE name = 'herald_migrations'")).toEqual([])
      yield* Effect.provide(migrate(files), layer)
      const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(path.join(migrationsDir, file))).digest("hex")
      const expected = fs.readdirSync(migrationsDir).filter((f) => f.endsWith(".sql")).sort().map((file) => {
        const id = Number(file.slice(0, 4))
        return { migration_id: id, name: file.slice(5, -4), sha256: sha256(file), recorded_as: id < checksummed ? "adopted" : "applied" }
      })
      expect(query(db, "SELECT migration_id, name, sha256, recorded_as FROM herald_migrations ORDER BY migration_id")).toEqual(expected)
      const copy = copyMigrations(yield* tempDir)
      fs.appendFileSync(path.join(copy, "0002_http_api.sql"), "-- an edit after the fact\n")
      const error = yield* Effect.flip(Effect.provide(migrate(readMigrations(copy)), layer))
      expect(error.message).toMatch(/^migrations\/0002_http_api\.sql differs/)
    }))

  it.scoped("a fresh database records every migration's checksum as applied", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      yield* Effect.provide(migrate(), writerLayer({ filename: db }))
      const rows = query<{ migration_id: number; recorded_as: string }>(db, "SELECT migration_id, recorded_as FROM herald_migrations ORDER BY migration_id")
      expect(rows).toEqual(readMigrations().map((f) => ({ migration_id: f.id, recorded_as: "applied" })))
    }))

  it.scoped("a stored checksum that differs from this build's file refuses the start, naming the file", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      yield* Effect.provide(migrate(), writerLayer({ filename: db }))
      run(db, "UPDATE herald_migrations SET sha256 = ? WHERE migration_id = 1", "0".repeat(64))
      const error = yield* startFailure(db)
      expect(error._tag).toBe("MigrationChanged")
      expect(error.message).toMatch(/^migrations\/0001_core\.sql differs/)
    }))

  it.scoped("a database lacking migration 3 while 2 and 4 are applied is refused at start, naming 0003", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      yield* Effect.provide(migrate(), writerLayer({ filename: db }))
      run(db, "DELETE FROM effect_sql_migrations WHERE migration_id = 3")
      const error = yield* startFailure(db)
      expect(error._tag).toBe("MigrationMissing")
      expect(error.message).toMatch(/^the database lacks migrations\/0003_lean_writes\.sql though migration 4 after it is applied: .*restore it from a backup/)
      expect(query(db, "SELECT migration_id FROM effect_sql_migrations WHERE migration_id = 3")).toEqual([])
    }))

  it.scoped("a build lacking a file the database has applied is refused, naming the file", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const layer = writerLayer({ filename: db })
      yield* Effect.provide(migrate(), layer)
      const error = yield* Effect.flip(Effect.provide(migrate(readMigrations().filter((f) => f.id !== 3)), layer))
      expect(error._tag).toBe("MigrationMissing")
      expect(error.message).toMatch(/^this build of Herald lacks migrations\/0003_lean_writes\.sql, which the database has applied: .*reinstall Herald/)
    }))
})
