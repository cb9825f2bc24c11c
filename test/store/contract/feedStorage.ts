/**
 * Storage for the store contracts of the feed's stores: the stores under test on a fresh SQLite
 * file or a fresh PostgreSQL database, migrated, with Writer, ReadSql and the writer's SqlClient
 * (the tests write their rows with SQL). Built anew for each test that provides it.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { migratePg } from "../../../src/store/pg/migrate.js"
import { pgWriter } from "../../../src/store/pg/Writer.js"
import { ReadSql } from "../../../src/store/ReadSql.js"
import { migrate } from "../../../src/store/sqlite/Migrations.js"
import { readerLayer, writerLayer } from "../../../src/store/sqlite/Sqlite.js"
import { sqliteWriter } from "../../../src/store/sqlite/Writer.js"
import type { WriterDb } from "../../../src/store/sqlite/WriterDb.js"
import type { Writer } from "../../../src/store/Writer.js"
import { tempDb } from "../../support/herald.js"
import { freshDatabaseLayer } from "../../support/postgres.js"

/** What every contract case may use besides its stores. */
export type Storage = SqlClient.SqlClient | Writer | ReadSql

export interface Engine<S> {
  readonly name: "sqlite" | "pg"
  /** The stores with their storage, fresh: provide it to one test. */
  readonly storage: Layer.Layer<S | Storage, unknown>
  /** Whether two write transactions can be open at once (PostgreSQL); SQLite has one writer. */
  readonly concurrentWriters: boolean
}

/** The stores on a new SQLite file in a temp dir: the writer connection, migrated, and the read-only one. */
export const sqliteEngine = <S>(stores: Layer.Layer<S, never, Storage | WriterDb>): Engine<S> => ({
  name: "sqlite",
  concurrentWriters: false,
  storage: Layer.unwrapScoped(Effect.map(tempDb, (filename) =>
    stores.pipe(
      Layer.provideMerge(sqliteWriter),
      Layer.provideMerge(readerLayer),
      Layer.provideMerge(Layer.effectDiscard(migrate()).pipe(Layer.provideMerge(writerLayer({ filename }))))
    )))
})

/** The stores on a new PostgreSQL database, migrated; ReadSql is the same pool, as in production. */
export const pgEngine = <S>(stores: Layer.Layer<S, never, Storage>): Engine<S> => ({
  name: "pg",
  concurrentWriters: true,
  storage: stores.pipe(
    Layer.provideMerge(pgWriter),
    Layer.provideMerge(Layer.effect(ReadSql, SqlClient.SqlClient)),
    Layer.provideMerge(Layer.effectDiscard(migratePg())),
    Layer.provideMerge(freshDatabaseLayer(6))
  )
})
