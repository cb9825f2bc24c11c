/**
 * What /readyz asks of storage: whether the database is writable right now (a write
 * transaction takes the lock), its migration and its room to grow; and the build's migration.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { databaseVersion, readMigrations } from "./sqlite/Migrations.js"
import { DatabaseOptionsTag } from "./sqlite/Sqlite.js"
import { diskFull, pageLimit } from "./sqlite/StorageRoom.js"
import { Writer } from "./Writer.js"

export class StorageHealth extends Effect.Service<StorageHealth>()("herald/StorageHealth", {
  effect: Effect.gen(function* () {
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
}) {}
