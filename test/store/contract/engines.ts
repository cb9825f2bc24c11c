/**
 * The storage a store contract runs on: a migrated database with its Writer, ReadSql and
 * RuntimeConfig, built fresh for each test, on SQLite (a temp file) or PostgreSQL (a fresh
 * database on the throwaway server). The stores under test are layered on top by each suite.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { RuntimeConfig } from "../../../src/runtime/RuntimeConfig.js"
import { migratePg } from "../../../src/store/pg/migrate.js"
import { pgWriter } from "../../../src/store/pg/Writer.js"
import { ReadSql } from "../../../src/store/ReadSql.js"
import { migrate } from "../../../src/store/sqlite/Migrations.js"
import { type DatabaseOptionsTag, readerLayer, writerLayer } from "../../../src/store/sqlite/Sqlite.js"
import { sqliteWriter } from "../../../src/store/sqlite/Writer.js"
import type { Writer } from "../../../src/store/Writer.js"
import { freshDatabaseLayer } from "../../support/postgres.js"
import { tempDb } from "../../support/herald.js"

/** What every store is built on. */
export type Storage = Writer | ReadSql | SqlClient.SqlClient | RuntimeConfig

/** SQLite on a temp file: the writer connection (SqlClient), the read-only one (ReadSql). */
export const sqliteStorage: Layer.Layer<Storage | DatabaseOptionsTag, unknown> = Layer.unwrapScoped(Effect.map(tempDb, (filename) => {
  const db = readerLayer.pipe(Layer.provideMerge(Layer.effectDiscard(migrate()).pipe(Layer.provideMerge(writerLayer({ filename })))))
  return Layer.mergeAll(sqliteWriter, RuntimeConfig.layer()).pipe(Layer.provideMerge(db))
}))

/** PostgreSQL on a fresh database: one pool, which is also the reader. */
export const pgStorage: Layer.Layer<Storage, unknown> = Layer.mergeAll(
  pgWriter,
  RuntimeConfig.layer(),
  Layer.effect(ReadSql, SqlClient.SqlClient)
).pipe(Layer.provideMerge(Layer.effectDiscard(migratePg())), Layer.provideMerge(freshDatabaseLayer(6)))
