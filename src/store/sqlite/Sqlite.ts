/**
 * The SQLite layer: one writer connection (the only one that writes: SQLite has one writer)
 * and a read-only connection for API, feed and inspector reads, so a read never waits for
 * a write transaction (WAL). Migrations run on the writer before the reader opens.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Reactivity from "@effect/experimental/Reactivity"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { StorageUnavailable } from "../../domain/errors.js"
import { ReadSql } from "../ReadSql.js"
import { WriterDb } from "./WriterDb.js"
import { makeSqlite, type SqliteOptions } from "./sqliteClient.js"

export type SyncMode = "NORMAL" | "FULL"

export interface DatabaseOptions {
  /** The SQLite file. Created if missing; its directory must exist and be writable. */
  readonly filename: string
  /** `NORMAL` (default) may lose the last commits on power loss, never on a process crash; `FULL` does not. */
  readonly sync?: SyncMode | undefined
  /** How long a statement waits for another process's write lock before failing busy. */
  readonly busyTimeoutMs?: number | undefined
}

export class DatabaseOptionsTag extends Context.Tag("herald/DatabaseOptions")<DatabaseOptionsTag, DatabaseOptions>() {}

const checkWritable = (filename: string) =>
  Effect.try({
    try: () => {
      const dir = path.dirname(path.resolve(filename))
      if (!fs.existsSync(dir)) throw new Error(`the directory ${dir} does not exist: create it first`)
      fs.accessSync(dir, fs.constants.W_OK)
      if (fs.existsSync(filename)) fs.accessSync(filename, fs.constants.R_OK | fs.constants.W_OK)
    },
    catch: (e) =>
      new StorageUnavailable({
        path: filename,
        reason: e instanceof Error && "code" in e && e.code === "EACCES"
          ? "permission denied: choose a writable path with HERALD_DB"
          : e instanceof Error ? e.message : String(e)
      })
  })

const open = (options: SqliteOptions) =>
  makeSqlite(options).pipe(
    Effect.catchAllDefect((defect) =>
      Effect.fail(new StorageUnavailable({ path: options.filename, reason: defect instanceof Error ? defect.message : String(defect) }))
    )
  )

/**
 * How long one write blocks the thread for another process's lock before Writer backs off:
 * never. SQLite waits out busy_timeout by sleeping on the thread, which stalls every fiber and
 * socket (a 100 ms wait per retry, several fibers retrying back to back, held /healthz for
 * 1.4 s behind an outside lock). A busy BEGIN IMMEDIATE fails at once and Writer's jittered
 * backoff waits asynchronously.
 */
export const writerBusyTimeoutMs = 0

/** The writer connection, with Herald's pragmas. Provides SqlClient. */
export const writerLayer = (options: DatabaseOptions) =>
  Layer.scopedContext(
    Effect.gen(function* () {
      yield* checkWritable(options.filename)
      const { client, connection, db, prepare } = yield* open({ filename: options.filename, prepareCacheSize: 500 })
      yield* Effect.all([
        client.unsafe("PRAGMA journal_mode = WAL"),
        client.unsafe(`PRAGMA synchronous = ${options.sync === "FULL" ? "FULL" : "NORMAL"}`),
        // Zero: SQLite would wait it out by blocking the thread (every fiber, every socket).
        // Waits for another process's lock are Writer's asynchronous retries.
        client.unsafe(`PRAGMA busy_timeout = ${Math.floor(options.busyTimeoutMs ?? writerBusyTimeoutMs)}`),
        client.unsafe("PRAGMA foreign_keys = ON"),
        client.unsafe("PRAGMA temp_store = MEMORY")
      ]).pipe(
        Effect.mapError((e) => new StorageUnavailable({ path: options.filename, reason: e.message }))
      )
      return Context.make(SqlClient.SqlClient, client).pipe(
        Context.add(DatabaseOptionsTag, options),
        Context.add(WriterDb, { db, prepare, owns: (tc) => Array.isArray(tc) && tc[0] === connection })
      )
    })
  ).pipe(Layer.provide(Reactivity.layer))

/** The read-only connection. Opened after the writer has created the file and set WAL. */
export const readerLayer = Layer.scoped(
  ReadSql,
  Effect.gen(function* () {
    const options = yield* DatabaseOptionsTag
    // The library's client: nothing on the read side needs the raw connection.
    const client = yield* SqliteClient.make({ filename: options.filename, readonly: true, disableWAL: true, prepareCacheSize: 200 }).pipe(
      Effect.catchAllDefect((defect) =>
        Effect.fail(new StorageUnavailable({ path: options.filename, reason: defect instanceof Error ? defect.message : String(defect) }))
      )
    )
    yield* client.unsafe(`PRAGMA busy_timeout = ${Math.floor(options.busyTimeoutMs ?? 5_000)}`).pipe(Effect.orDie)
    return client as SqlClient.SqlClient
  })
).pipe(Layer.provide(Reactivity.layer))
