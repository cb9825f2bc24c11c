/**
 * The PostgreSQL writer's wake-ups across processes: a transaction that wrote tells the other
 * processes (NOTIFY herald_commit, seen by their `othersCommitted`), one that only read tells
 * nobody, so idle processes do not keep waking each other into empty claims.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { migratePg } from "../../../src/store/pg/migrate.js"
import { pgWriter } from "../../../src/store/pg/Writer.js"
import { Writer } from "../../../src/store/Writer.js"
import { whenIo } from "../../support/receiver.js"
import { freshDatabase } from "../../support/postgres.js"
import { pgClientLayer } from "../../../src/store/pg/client.js"

/** A writer on its own pool, as another process has. */
const writerOn = (url: string) => Layer.build(pgWriter.pipe(Layer.provideMerge(pgClientLayer({ url, maxConnections: 3 }))))

describe("Writer on PostgreSQL, other processes' commits", () => {
  it.scopedLive("a write is seen by another process's writer; a transaction that only read is not", () =>
    Effect.gen(function* () {
      const { url } = yield* freshDatabase
      const a = yield* writerOn(url)
      const b = yield* writerOn(url)
      const inA = <X, E>(e: Effect.Effect<X, E, Writer | SqlClient.SqlClient>) => Effect.provide(e, a)
      const inB = <X, E>(e: Effect.Effect<X, E, Writer | SqlClient.SqlClient>) => Effect.provide(e, b)
      yield* inA(migratePg())
      const othersCommitted = inB(Effect.flatMap(Writer, (w) => w.othersCommitted))
      // A write committed by A: B hears of it (LISTEN runs on its own connection, so allow it to arrive).
      const writeInA = inA(Effect.flatMap(Writer, (w) => w.transaction(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`INSERT INTO notifications (id, kind, priority, title, created_at) VALUES (${`n${Math.random()}`}, 'k', 'normal', 't', 1)`))))
      yield* writeInA
      yield* whenIo(othersCommitted, (seen) => seen, "B sees A's write")
      // Read-only transactions in A, then a marker write: notifications arrive in commit order,
      // so any sent by the read-only ones would be heard before the marker's.
      const listener = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const pg = (await import("pg")).default
          const c = new pg.Client({ connectionString: url })
          await c.connect()
          const heard: Array<string> = []
          c.on("notification", (n) => heard.push(n.payload ?? ""))
          await c.query("LISTEN herald_commit")
          return { c, heard }
        }),
        ({ c }) => Effect.promise(() => c.end())
      )
      yield* inA(Effect.flatMap(Writer, (w) => Effect.repeatN(w.transaction(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`)), 19)))
      yield* writeInA
      yield* whenIo(Effect.sync(() => listener.heard.length), (n) => n >= 1, "the marker write's NOTIFY")
      // Twenty read-only transactions, then one write: one notification, the write's.
      expect(listener.heard).toHaveLength(1)
      expect(yield* othersCommitted).toBe(true)
      expect(yield* othersCommitted).toBe(false)
    }))
})
