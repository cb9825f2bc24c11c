/**
 * The PostgreSQL triggers write what the SQLite triggers write: the same statements, run
 * through the same SqlClient code on a SQLite file migrated by the project's own migrate and on
 * a fresh PostgreSQL database, leave the same change_log (entity, id, event, payload) sequence
 * and the same delivery_counts. delivery_counts also equals a GROUP BY after any mix of writes,
 * and concurrent writers moving deliveries through statuses in opposite orders never deadlock.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Runtime } from "effect"
import fc from "fast-check"
import { migrate, readMigrations } from "../../src/store/sqlite/Migrations.js"
import { writerLayer } from "../../src/store/sqlite/Sqlite.js"
import { migratePg } from "../../src/store/pg/migrate.js"
import { tempDb } from "../support/herald.js"
import { freshDatabaseLayer } from "../support/postgres.js"

/** Portable SQL: the tagged template binds the same values on either engine. */
const script = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`INSERT INTO settings (id, document, version, updated_at) VALUES (1, ${'{"enabled":true}'}, 1, 100)`
  yield* sql`UPDATE settings SET document = ${'{"enabled":false}'}, version = 2, updated_at = 101 WHERE id = 1`
  yield* sql`UPDATE settings SET version = 3, updated_at = 102 WHERE id = 1` // same document: silent
  yield* sql`INSERT INTO notifications (id, kind, priority, title, body, payload, project_id, created_at)
             VALUES ('n1', 'build', 'high', 'Build broke', '', ${'{"x":1}'}, 'p1', 110)`
  yield* sql`UPDATE notifications SET routed_at = 111 WHERE id = 'n1'`
  yield* sql`UPDATE notifications SET routed_at = 111, title = 'same route' WHERE id = 'n1'` // routed_at unchanged: silent
  yield* sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, created_at, updated_at)
             VALUES ('d1', 'n1', 'hook', 'pending', 3, 112, 112)`
  yield* sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, reason, created_at, updated_at)
             VALUES ('d2', 'n1', 'gone', 'skipped', 3, 'unknown sink', 112, 112)`
  yield* sql`UPDATE deliveries SET status = 'leased', lease_owner = 'w1', lease_expires_at = 200, version = 1, updated_at = 113 WHERE id = 'd1'`
  yield* sql`UPDATE deliveries SET lease_expires_at = 300, updated_at = 114 WHERE id = 'd1'` // a lease renewal: silent
  yield* sql`UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, version = 2, updated_at = 115 WHERE id = 'd1'` // released
  yield* sql`UPDATE deliveries SET status = 'leased', lease_owner = 'w2', lease_expires_at = 400, version = 3, updated_at = 116 WHERE id = 'd1'`
  yield* sql`UPDATE deliveries SET status = 'retry_wait', lease_owner = NULL, lease_expires_at = NULL, attempts = 1,
             next_attempt_at = 500, last_error_code = 'http_503', version = 4, updated_at = 117 WHERE id = 'd1'`
  yield* sql`UPDATE deliveries SET max_attempts = 5, version = 5, updated_at = 118 WHERE id = 'd1'` // no status change: 'updated'
  yield* sql`UPDATE deliveries SET status = 'pending', version = 6, updated_at = 119 WHERE id = 'd1'` // retry due: 'pending', not 'released'
  yield* sql`UPDATE deliveries SET status = 'leased', lease_owner = 'w3', lease_expires_at = 600, version = 7, updated_at = 120 WHERE id = 'd1'`
  yield* sql`UPDATE deliveries SET status = 'sent', lease_owner = NULL, lease_expires_at = NULL, attempts = 2, external_id = 'ext-1', version = 8, updated_at = 121 WHERE id = 'd1'`
  yield* sql`INSERT INTO delivery_attempts (delivery_id, attempt, outcome, finished_at, held_by) VALUES ('d1', 2, 'sent', 121, NULL)`
  yield* sql`INSERT INTO circuits (sink, status, consecutive_failures, opens, version, updated_at) VALUES ('hook', 'closed', 1, 0, 0, 130)` // closed: silent
  yield* sql`UPDATE circuits SET consecutive_failures = 2, version = 1, updated_at = 131 WHERE sink = 'hook'` // no change of status: silent
  yield* sql`UPDATE circuits SET status = 'open', consecutive_failures = 3, opens = 1, cooldown_ms = 1000, opened_at = 132,
             probe_at = 1132, last_error_code = 'http_503', reason = 'three failures', version = 2, updated_at = 132 WHERE sink = 'hook'`
  yield* sql`INSERT INTO circuits (sink, status, consecutive_failures, opens, cooldown_ms, opened_at, probe_at, version, updated_at)
             VALUES ('mail', 'open', 5, 1, 1000, 140, 1140, 0, 140)`
  yield* sql`UPDATE circuits SET status = 'half_open', probe_delivery_id = 'd1', version = 3, updated_at = 1133 WHERE sink = 'hook'`
})

interface Change { readonly entity: string; readonly entityId: string; readonly event: string; readonly payload: unknown; readonly createdAt: number }

const changes = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ entity: string; entityId: string; event: string; payload: unknown; createdAt: number }>`
      SELECT entity, entity_id AS "entityId", event, payload, created_at AS "createdAt" FROM change_log ORDER BY seq`,
    (rows): Array<Change> => rows.map((r) => ({ ...r, payload: typeof r.payload === "string" ? JSON.parse(r.payload) as unknown : r.payload }))
  ))

type Count = { sink: string; status: string; n: number }
const sorted = (rows: ReadonlyArray<Count>) => rows.map((r) => `${r.sink}/${r.status}=${r.n}`).sort()
const kept = Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.map(sql<Count>`SELECT sink, status, n FROM delivery_counts WHERE n <> 0`, sorted))
const counted = Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.map(sql<Count>`SELECT sink, status, count(*) AS n FROM deliveries GROUP BY sink, status`, sorted))

const onSqlite = <A, E>(self: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.gen(function* () {
    const layer = writerLayer({ filename: yield* tempDb })
    return yield* Effect.provide(Effect.zipRight(migrate(readMigrations()), self), layer)
  })

const onPg = <A, E>(self: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.provide(Effect.zipRight(migratePg(), self), freshDatabaseLayer(2))

const run = Effect.gen(function* () {
  yield* script
  return { changes: yield* changes, counts: yield* kept, grouped: yield* counted }
})

describe("PostgreSQL triggers", () => {
  it.scoped("write the change_log rows and delivery_counts the SQLite triggers write for the same statements", () =>
    Effect.gen(function* () {
      const sqlite = yield* onSqlite(run)
      const pg = yield* onPg(run)
      // The script's expectations hold on SQLite (so the comparison is not of two empty logs) ...
      expect(sqlite.changes.map((c) => `${c.entity}:${c.entityId}:${c.event}`)).toEqual([
        "settings:settings:updated", "settings:settings:updated",
        "notification:n1:created", "notification:n1:routed",
        "delivery:d1:created", "delivery:d2:created",
        "delivery:d1:leased", "delivery:d1:released", "delivery:d1:leased", "delivery:d1:retry_wait",
        "delivery:d1:updated", "delivery:d1:pending", "delivery:d1:leased", "delivery:d1:sent",
        "circuit:hook:open", "circuit:mail:open", "circuit:hook:half_open"
      ])
      // ... and PostgreSQL writes the same rows: entity, event, every payload key and value, time.
      expect(pg.changes).toEqual(sqlite.changes)
      expect(pg.counts).toEqual(sqlite.counts)
      expect(pg.counts).toEqual(["gone/skipped=1", "hook/sent=1"])
      expect(pg.grouped).toEqual(pg.counts)
    }))

  it.scoped("a statement that fails leaves no change row (the trigger is in its transaction)", () =>
    onPg(Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO notifications (id, kind, priority, title, created_at) VALUES ('n1', 'k', 'low', 't', 1)`
      const failed = yield* Effect.exit(sql.withTransaction(Effect.gen(function* () {
        yield* sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, created_at, updated_at) VALUES ('d1', 'n1', 's', 'pending', 3, 1, 1)`
        yield* sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, created_at, updated_at) VALUES ('d2', 'n1', 's', 'pending', 3, 1, 1)` // UNIQUE (notification_id, sink)
      })))
      expect(failed._tag).toBe("Failure")
      expect((yield* changes).map((c) => c.event)).toEqual(["created"])
      expect(yield* kept).toEqual([])
    })))

  // Arbitrary inserts, status and sink changes, and deletes, straight in SQL: the triggers are under test.
  it.scoped("delivery_counts equals a GROUP BY over the deliveries after any mix of inserts, updates and deletes", () =>
    onPg(Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const statuses = ["pending", "leased", "retry_wait", "sent", "dead", "skipped", "cancelled"] as const
      const op = fc.oneof(
        fc.record({ op: fc.constant("insert" as const), sink: fc.constantFrom("a", "b", "c"), status: fc.constantFrom(...statuses) }),
        fc.record({ op: fc.constant("update" as const), pick: fc.nat(), status: fc.option(fc.constantFrom(...statuses)), sink: fc.option(fc.constantFrom("a", "b", "c")) }),
        fc.record({ op: fc.constant("delete" as const), pick: fc.nat() }),
        fc.record({ op: fc.constant("compact" as const) })
      )
      let round = 0
      const runtime = yield* Effect.runtime<SqlClient.SqlClient>()
      yield* Effect.promise(() => fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 40 }), (ops) =>
          Runtime.runPromise(runtime)(Effect.gen(function* () {
            const r = round++
            const ids: Array<string> = []
            for (const [i, o] of ops.entries()) {
              if (o.op === "compact") {
                yield* sql`SELECT delivery_counts_compact()`
              } else if (o.op === "insert") {
                const id = `p${r}-${i}`
                const leased = o.status === "leased"
                yield* sql`INSERT INTO notifications (id, kind, priority, title, created_at) VALUES (${id}, 'k', 'normal', 't', 1)`
                yield* sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, lease_owner, lease_expires_at, created_at, updated_at)
                  VALUES (${id}, ${id}, ${o.sink}, ${o.status}, 5, ${leased ? "w" : null}, ${leased ? 1 : null}, 1, 1)`
                ids.push(id)
              } else if (ids.length > 0) {
                const id = ids[o.pick % ids.length]!
                if (o.op === "delete") {
                  yield* sql`DELETE FROM delivery_attempts WHERE delivery_id = ${id}`
                  yield* sql`DELETE FROM deliveries WHERE id = ${id}`
                  ids.splice(ids.indexOf(id), 1)
                } else {
                  const status = o.status ?? undefined
                  const leased = status === "leased"
                  yield* sql`UPDATE deliveries SET ${sql.update({
                    ...(status !== undefined ? { status, lease_owner: leased ? "w" : null, lease_expires_at: leased ? 1 : null } : {}),
                    ...(o.sink !== null ? { sink: o.sink } : {}),
                    updated_at: 2
                  })} WHERE id = ${id}`
                }
              }
            }
            expect(yield* kept).toEqual(yield* counted)
          }).pipe(Effect.orDie))
        ),
        { numRuns: 40 }
      ))
    })))

  it.scopedLive("concurrent writers moving deliveries through statuses in any order never deadlock; the counts stay exact", () =>
    onPg(Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const writers = 8
      const perWriter = 50
      yield* sql`INSERT INTO notifications (id, kind, priority, title, created_at)
                 SELECT 'n' || g, 'k', 'low', 't', 1 FROM generate_series(1, ${writers * perWriter}) g`
      yield* sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, created_at, updated_at)
                 SELECT 'd' || g, 'n' || g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, 'pending', 5, 1, 1
                 FROM generate_series(1, ${writers * perWriter}) g`
      const statuses = ["pending", "retry_wait", "dead", "cancelled", "sent"] as const
      // Each writer owns its deliveries (no two transactions touch one delivery), so any wait is
      // on the counts; 40 transactions of 4 status changes each, in seeded random orders.
      const writer = (w: number) => Effect.gen(function* () {
        let seed = w * 7919 + 1
        const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
        for (let t = 0; t < 40; t++) {
          yield* sql.withTransaction(Effect.forEach(Array.from({ length: 4 }, (_, k) => k), (k) =>
            sql`UPDATE deliveries SET status = ${statuses[Math.floor(random() * statuses.length)]!}, updated_at = 2
                WHERE id = ${`d${w * perWriter + ((t * 4 + k) % perWriter) + 1}`}`, { discard: true }))
        }
      })
      const compactions = Effect.forEach(Array.from({ length: 20 }, (_, i) => i), () => sql`SELECT delivery_counts_compact()`, { discard: true })
      // No deadlock_timeout wait: 320 transactions in well under the 10 s a few detected deadlocks would cost.
      yield* Effect.all([
        Effect.all(Array.from({ length: writers }, (_, w) => writer(w)), { concurrency: "unbounded", discard: true }),
        compactions
      ], { concurrency: "unbounded", discard: true }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("writers stalled on the counts") }))
      expect(yield* kept).toEqual(yield* counted)
      yield* sql`SELECT delivery_counts_compact()`
      expect(yield* kept).toEqual(yield* counted)
      const rows = yield* sql<{ n: number }>`SELECT count(*)::INT AS n FROM delivery_count_deltas`
      expect(rows[0]!.n).toBe((yield* counted).length)
    }).pipe(Effect.orDie)))
})
