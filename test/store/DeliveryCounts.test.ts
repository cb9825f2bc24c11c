/**
 * `delivery_counts` (migration 0005) is kept by triggers; stats read it instead of counting every
 * delivery. Whatever happens to the rows, it must equal a GROUP BY over them.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { migrate, readMigrations } from "../../src/store/sqlite/Migrations.js"
import { writerLayer } from "../../src/store/sqlite/Sqlite.js"
import { sharedHerald, tempDb, withHerald } from "../support/herald.js"

type Count = { sink: string; status: string; n: number }

const sorted = (rows: ReadonlyArray<Count>) =>
  rows.map((r) => `${r.sink}/${r.status}=${r.n}`).sort()

const kept = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<Count>`SELECT sink, status, n FROM delivery_counts WHERE n > 0`)
const counted = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<Count>`SELECT sink, status, count(*) AS n FROM deliveries GROUP BY sink, status`)

const statuses = ["pending", "leased", "retry_wait", "sent", "dead", "skipped", "cancelled"] as const

describe("delivery_counts", () => {
  it.scoped("0005 seeds the counts from the deliveries already there", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const layer = writerLayer({ filename: db })
      const files = readMigrations()
      const upTo4 = files.filter((f) => f.id <= 4)
      yield* Effect.provide(migrate(upTo4), layer)
      yield* Effect.provide(Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.gen(function* () {
        yield* sql`INSERT INTO notifications (id, kind, priority, title, body, payload, created_at) VALUES ('n1', 'k', 'normal', 't', '', '{}', 1), ('n2', 'k', 'normal', 't', '', '{}', 1)`
        yield* sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, created_at, updated_at) VALUES
          ('d1', 'n1', 'a', 'sent', 5, 1, 1), ('d2', 'n2', 'a', 'sent', 5, 1, 1), ('d3', 'n1', 'b', 'dead', 5, 1, 1)`
      })), layer)
      yield* Effect.provide(migrate(files), layer)
      expect(sorted(yield* Effect.provide(kept, layer))).toEqual(["a/sent=2", "b/dead=1"])
    }))

  // Arbitrary inserts, status and sink changes, and deletes, straight in SQL: the triggers, not
  // Herald's code paths, are what is under test.
  it.scoped("equals a GROUP BY over the deliveries after any mix of inserts, updates and deletes", () =>
    Effect.gen(function* () {
      const runtime = yield* sharedHerald
      let round = 0
      const op = fc.oneof(
        fc.record({ op: fc.constant("insert" as const), sink: fc.constantFrom("a", "b", "c"), status: fc.constantFrom(...statuses) }),
        fc.record({ op: fc.constant("update" as const), pick: fc.nat(), status: fc.option(fc.constantFrom(...statuses)), sink: fc.option(fc.constantFrom("a", "b", "c")) }),
        fc.record({ op: fc.constant("delete" as const), pick: fc.nat() })
      )
      yield* Effect.promise(() => fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 60 }), (ops) =>
          runtime.runPromise(Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            const r = round++
            const ids: Array<string> = []
            yield* sql`INSERT INTO notifications (id, kind, priority, title, body, payload, created_at) VALUES (${`p${r}`}, 'k', 'normal', 't', '', '{}', 1)`
            for (const [i, o] of ops.entries()) {
              if (o.op === "insert") {
                const id = `p${r}-${i}`
                const leased = o.status === "leased"
                // Each sink at most once per notification (UNIQUE), so the sink goes in the id's notification.
                yield* sql`INSERT INTO notifications (id, kind, priority, title, body, payload, created_at) VALUES (${id}, 'k', 'normal', 't', '', '{}', 1)`
                yield* sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, lease_owner, lease_expires_at, created_at, updated_at)
                  VALUES (${id}, ${id}, ${o.sink}, ${o.status}, 5, ${leased ? "w" : null}, ${leased ? 1 : null}, 1, 1)`
                ids.push(id)
              } else if (ids.length > 0) {
                const id = ids[o.pick % ids.length]!
                if (o.op === "delete") {
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
            expect(sorted(yield* kept)).toEqual(sorted(yield* counted))
          }).pipe(Effect.orDie))
        ),
        { numRuns: 60 }
      ))
    }), 60_000)

  it.scoped("stats follow deliveries through enqueue, dispatch, dead letter and requeue", () =>
    withHerald((herald) => Effect.gen(function* () {
      yield* herald.putSettings({
        sinks: { desk: { type: "desktop" }, off: { type: "log", enabled: false } },
        routes: [{ sink: "desk", minPriority: "low" }, { sink: "off", minPriority: "low" }],
        retry: { maxAttempts: 1, baseMs: 1_000, factor: 2, capMs: 60_000 }
      })
      yield* herald.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ kind: "k", title: `t${i}` })))
      const check = Effect.gen(function* () {
        const stats = yield* herald.stats()
        const fromRows: Record<string, Record<string, number>> = {}
        for (const c of yield* counted) (fromRows[c.sink] ??= {})[c.status] = c.n
        expect(stats.bySink).toEqual(fromRows)
        return stats
      })
      expect((yield* check).bySink).toEqual({ desk: { pending: 5 }, off: { skipped: 5 } })
      const claimed = yield* herald.claim({ sink: "desk", owner: "me", limit: 3 })
      yield* herald.ack(claimed[0]!.delivery.id, { owner: "me", version: claimed[0]!.delivery.version })
      yield* herald.nack(claimed[1]!.delivery.id, { owner: "me", version: claimed[1]!.delivery.version, code: "no", message: "refused", retryable: false })
      expect((yield* check).byStatus).toEqual({ pending: 2, leased: 1, sent: 1, dead: 1, skipped: 5 })
      yield* herald.requeue(claimed[1]!.delivery.id)
      const stats = yield* check
      expect(stats.byStatus).toEqual({ pending: 3, leased: 1, sent: 1, skipped: 5 })
      expect(stats.dead).toBe(0)
    }), { background: false }))
})

