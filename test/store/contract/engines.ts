/**
 * The storage a store contract runs on, built fresh for each test that provides it: a migrated
 * database with its Writer, ReadSql, the writer's SqlClient (tests write rows with SQL) and
 * RuntimeConfig, on SQLite (a temp file) or PostgreSQL (a fresh database on the throwaway
 * server). A suite layers the stores under test on top, itself or through an `Engine`.
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
import type { WriterDb } from "../../../src/store/sqlite/WriterDb.js"
import type { Writer } from "../../../src/store/Writer.js"
import { tempDb } from "../../support/herald.js"
import { freshDatabaseLayer } from "../../support/postgres.js"

/** What every store is built on, and every contract case may use besides its stores. */
export type Storage = Writer | ReadSql | SqlClient.SqlClient | RuntimeConfig

/** SQLite on a temp file: the writer connection (SqlClient, WriterDb), migrated, and the read-only one (ReadSql). */
export const sqliteStorage: Layer.Layer<Storage | WriterDb | DatabaseOptionsTag, unknown> = Layer.unwrapScoped(Effect.map(tempDb, (filename) => {
  const db = readerLayer.pipe(Layer.provideMerge(Layer.effectDiscard(migrate()).pipe(Layer.provideMerge(writerLayer({ filename })))))
  return Layer.mergeAll(sqliteWriter, RuntimeConfig.layer()).pipe(Layer.provideMerge(db))
}))

/** PostgreSQL on a fresh database, migrated: one pool, which is also the reader, as in production. */
export const pgStorage: Layer.Layer<Storage, unknown> = Layer.mergeAll(
  pgWriter,
  RuntimeConfig.layer(),
  Layer.effect(ReadSql, SqlClient.SqlClient)
).pipe(Layer.provideMerge(Layer.effectDiscard(migratePg())), Layer.provideMerge(freshDatabaseLayer(6)))

/** Stores on one engine's storage, for the contracts that vary a case by engine. */
export interface Engine<S> {
  readonly name: "sqlite" | "pg"
  /** The stores with their storage, fresh: provide it to one test. */
  readonly storage: Layer.Layer<S | Storage, unknown>
  /** Whether two write transactions can be open at once (PostgreSQL); SQLite has one writer. */
  readonly concurrentWriters: boolean
}

export const sqliteEngine = <S>(stores: Layer.Layer<S, never, Storage | WriterDb>): Engine<S> => ({
  name: "sqlite",
  concurrentWriters: false,
  storage: stores.pipe(Layer.provideMerge(sqliteStorage))
})

export const pgEngine = <S>(stores: Layer.Layer<S, never, Storage>): Engine<S> => ({
  name: "pg",
  concurrentWriters: true,
  storage: stores.pipe(Layer.provideMerge(pgStorage))
})
