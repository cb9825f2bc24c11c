/**
 * The StorageHealth contract on PostgreSQL, and what is PostgreSQL's own: writable answers the
 * database's applied migration (not the build's), and fails where a write would (a read-only
 * transaction, as on a standby).
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { driverCodeOf } from "../../../src/store/errors.js"
import { pgStorageHealth } from "../../../src/store/pg/StorageHealth.js"
import { StorageHealth } from "../../../src/store/StorageHealth.js"
import { Writer } from "../../../src/store/Writer.js"
import { storageHealthContract } from "../contract/StorageHealth.js"
import { pgStorage } from "../contract/engines.js"

describe("StorageHealth on PostgreSQL", () => {
  storageHealthContract(pgStorage, pgStorageHealth)

  const run = <A, E>(body: Effect.Effect<A, E, StorageHealth | Writer | SqlClient.SqlClient>) =>
    body.pipe(Effect.provide(Layer.provideMerge(pgStorageHealth, pgStorage)))

  it.scoped("writable reports the migration the database is at, which may be newer than the build's", () =>
    run(Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const h = yield* StorageHealth
      expect(h.buildVersion).toBe(9)
      yield* sql`INSERT INTO herald_migrations (migration_id, name, sha256, recorded_at) VALUES (99, 'future', ${"0".repeat(64)}, 0)`
      const w = yield* h.writable
      expect(w.version).toBe(99)
      expect(w.pages).toEqual({ pageSize: 8192, full: Option.none() })
      expect(h.buildVersion).toBe(9)
    })))

  it.scoped("writable fails where a write would: in a read-only transaction (SQLSTATE 25006)", () =>
    run(Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const writer = yield* Writer
      const h = yield* StorageHealth
      const error = yield* Effect.flip(writer.transaction(Effect.zipRight(sql`SET TRANSACTION READ ONLY`, h.writable)))
      expect(driverCodeOf(error)).toBe("25006")
      // The same transaction without the write check answers.
      expect((yield* writer.transaction(Effect.zipRight(sql`SET TRANSACTION READ ONLY`, sql`SELECT 1 AS one`)))).toEqual([{ one: 1 }])
    })))
})
