/** StorageHealth on SQLite: the implementation of src/store/StorageHealth.ts. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { databaseVersion, readMigrations } from "./Migrations.js"
import { DatabaseOptionsTag } from "./Sqlite.js"
import { diskFull, pageLimit } from "./StorageRoom.js"
import { Writer } from "../Writer.js"
import { StorageHealth } from "../StorageHealth.js"

const make = Effect.gen(function* () {
  const writer = yield* Writer
  const sql = yield* SqlClient.SqlClient
  const { filename } = yield* DatabaseOptionsTag

  /** The migration this build brings. */
  const buildVersion = readMigrations().reduce((max, f) => Math.max(max, f.id), 0)

  /** Takes the write lock (BEGIN IMMEDIATE): the database's migration, and why it cannot grow, if it cannot. */
  const writable = writer.transaction(Effect.all({ version: databaseVersion, pages: pageLimit })).pipe(
    Effect.provideService(SqlClient.SqlClient, sql)
  )

  /** Why storage is full (the page limit, or the disk, asked outside any transaction), or none. */
  const fullness = (pages: Effect.Effect.Success<typeof writable>["pages"]) =>
    Option.isSome(pages.full) ? Effect.succeed(pages.full) : diskFull(filename, pages.pageSize)

  return { buildVersion, writable, fullness } as const
})

/** StorageHealth on SQLite. */
export const sqliteStorageHealth = Layer.effect(StorageHealth, make)
