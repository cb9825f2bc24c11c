import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Exit, Fiber, Layer, TestClock } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseTooNew, StorageUnavailable } from "../../src/domain/errors.js"
import { Herald } from "../../src/layers/Herald.js"
import { databaseVersion, migrate, migrationsDir, readMigrations } from "../../src/layers/Migrations.js"
import { splitSql } from "../../src/layers/internal/splitSql.js"
import { writerLayer } from "../../src/layers/Sqlite.js"
import { tempDb, tempDir } from "../support/herald.js"

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
})
