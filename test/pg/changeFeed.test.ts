/**
 * The PostgreSQL change feed never skips. Change numbers are taken before commit, so commit
 * order and number order differ; a reader that polls `seq > last` passes over a change that
 * commits late with a lower number, for good. changesAfter reads only below the oldest running
 * transaction (src/store/pg/changeFeed.ts), with numbers derived from the writer's transaction
 * id (migrations/pg/0001): these tests show the skip is real and that the feed has none.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Data, Deferred, Effect, Fiber, Ref } from "effect"
import { belowHorizon, changesAfter } from "../../src/store/pg/changeFeed.js"
import { migratePg } from "../../src/store/pg/migrate.js"
import pg from "pg"
import { freshDatabase, freshDatabaseLayer } from "../support/postgres.js"

/** What a poll that trusts seq alone reads. */
const naiveChangesAfter = (seq: number, limit: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ seq: number }>`SELECT seq FROM change_log WHERE seq > ${seq} ORDER BY seq LIMIT ${limit}`)

type Read = (seq: number, limit: number) => Effect.Effect<ReadonlyArray<{ readonly seq: number }>, unknown, SqlClient.SqlClient>

const insertNotification = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO notifications (id, kind, priority, title, created_at) VALUES (${id}, 'k', 'normal', 't', 1)`)

const allSeqs = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(sql<{ seq: number }>`SELECT seq FROM change_log ORDER BY seq`, (rows) => rows.map((r) => r.seq)))

/** A small seeded PRNG (mulberry32), so a failing run can be replayed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

class Rollback extends Data.TaggedError("Rollback")<{}> {}

describe("PostgreSQL change feed", () => {
  it.scopedLive("a late commit with a lower number: `seq > last` skips it, changesAfter does not", () =>
    Effect.gen(function* () {
      yield* migratePg()
      const sql = yield* SqlClient.SqlClient
      const early = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // A takes its number, then waits; B takes a higher one and commits first.
      const a = yield* Effect.fork(sql.withTransaction(Effect.gen(function* () {
        yield* insertNotification("a")
        yield* Deferred.succeed(early, undefined)
        yield* Deferred.await(release)
      })))
      yield* Deferred.await(early)
      yield* sql.withTransaction(insertNotification("b"))
      const naive = yield* naiveChangesAfter(0, 100)
      const feed = yield* changesAfter(0, 100)
      expect(naive).toHaveLength(1) // B's change, whose number is above A's
      expect(feed).toEqual([]) // A is still running and older than B: nothing from B yet
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(a)
      const [aSeq, bSeq] = yield* allSeqs
      expect(naive[0]!.seq).toBe(bSeq)
      expect(aSeq!).toBeLessThan(bSeq!)
      expect(yield* naiveChangesAfter(naive[0]!.seq, 100)).toEqual([]) // A's change is behind the cursor: skipped for good
      expect((yield* changesAfter(0, 100)).map((r) => r.seq)).toEqual([aSeq, bSeq])
    }).pipe(Effect.provide(freshDatabaseLayer(4))))

  it.scopedLive("a transaction that took its id first but its number last: a plain sequence skips it below xmin, the xid-derived seq does not", () =>
    Effect.gen(function* () {
      yield* migratePg()
      const sql = yield* SqlClient.SqlClient
      // The same interleaving written to a log numbered by a plain sequence, read with the same
      // horizon: what migrations/pg/0001 avoided by deriving seq from the transaction id.
      yield* sql`CREATE TABLE plain_log (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 xid XID8 NOT NULL DEFAULT pg_current_xact_id(), who TEXT NOT NULL)`
      const plainAfter = (seq: number) =>
        sql<{ seq: number; who: string }>`SELECT seq, who FROM plain_log
          WHERE seq > ${seq} AND ${sql.literal(belowHorizon)} ORDER BY seq`
      const write = (who: string) => Effect.zipRight(insertNotification(who), sql`INSERT INTO plain_log (who) VALUES (${who})`)
      const aHasId = yield* Deferred.make<void>()
      const bWrote = yield* Deferred.make<void>()
      const bCommit = yield* Deferred.make<void>()
      // A takes its transaction id first; B (a younger id) writes first, so takes the lower
      // plain number; A writes and commits while B is still open.
      const b = yield* Effect.fork(sql.withTransaction(Effect.gen(function* () {
        yield* Deferred.await(aHasId)
        yield* write("b")
        yield* Deferred.succeed(bWrote, undefined)
        yield* Deferred.await(bCommit)
      })))
      yield* sql.withTransaction(Effect.gen(function* () {
        yield* sql`SELECT pg_current_xact_id()`
        yield* Deferred.succeed(aHasId, undefined)
        yield* Deferred.await(bWrote)
        yield* write("a")
      }))
      const plainFirst = yield* plainAfter(0)
      const first = yield* changesAfter(0, 100)
      expect(plainFirst.map((r) => r.who)).toEqual(["a"])
      expect(first.map((r) => r.entityId)).toEqual(["a"])
      yield* Deferred.succeed(bCommit, undefined)
      yield* Fiber.join(b)
      // B's plain number is below A's: behind the cursor, skipped for good.
      expect(yield* plainAfter(plainFirst[0]!.seq)).toEqual([])
      expect((yield* plainAfter(0)).map((r) => r.who)).toEqual(["b", "a"])
      // B's xid-derived number is above A's: the feed reads it next.
      const rest = yield* changesAfter(first[0]!.seq, 100)
      expect(rest.map((r) => r.entityId)).toEqual(["b"])
      expect(rest[0]).toMatchObject({ entity: "notification", event: "created", payload: { kind: "k", priority: "normal" }, createdAt: 1 })
    }).pipe(Effect.provide(freshDatabaseLayer(4))))

  it.scopedLive("many concurrent writers: the feed a reader saw has every committed change once, in order; the naive read skips", () =>
    Effect.gen(function* () {
      yield* migratePg()
      const sql = yield* SqlClient.SqlClient
      const writers = 8
      const transactionsEach = 40
      const committed = yield* Ref.make(0)
      const target = yield* Ref.make<number | undefined>(undefined)

      // Each transaction writes 1-3 notifications (and sometimes routes one: a second change of
      // the same row), sleeps now and then inside it so commit order differs from number order,
      // and one in ten rolls back.
      const writer = (w: number) => Effect.gen(function* () {
        const random = prng(w + 1)
        for (let t = 0; t < transactionsEach; t++) {
          const rows = 1 + Math.floor(random() * 3)
          const rollback = random() < 0.1
          let changes = 0
          const tx = sql.withTransaction(Effect.gen(function* () {
            for (let j = 0; j < rows; j++) {
              const id = `w${w}-${t}-${j}`
              yield* insertNotification(id)
              changes++
              if (random() < 0.3) {
                yield* sql`UPDATE notifications SET routed_at = 2 WHERE id = ${id}`
                changes++
              }
              if (random() < 0.3) yield* sql`SELECT pg_sleep(${random() * 0.01})`
            }
            if (random() < 0.5) yield* sql`SELECT pg_sleep(${random() * 0.015})`
            if (rollback) return yield* new Rollback()
          }))
          yield* tx.pipe(
            Effect.zipRight(Ref.update(committed, (n) => n + changes)),
            Effect.catchTag("Rollback", () => Effect.void)
          )
        }
      })

      // Polls as fast as it can, advancing `last` to the highest number it saw, until it has
      // reached the newest committed change once the writers are done.
      const reader = (read: Read) => Effect.gen(function* () {
        const seen: Array<number> = []
        let duringWrites = 0
        let last = 0
        for (;;) {
          const until = yield* Ref.get(target)
          const rows = yield* read(last, 50)
          for (const r of rows) seen.push(r.seq)
          if (until === undefined) duringWrites += rows.length
          if (rows.length > 0) last = rows[rows.length - 1]!.seq
          if (until !== undefined && rows.length === 0 && last >= until) return { seen, duringWrites }
          yield* Effect.yieldNow()
        }
      })

      const feed = yield* Effect.fork(reader(changesAfter).pipe(Effect.timeout("30 seconds")))
      const naive = yield* Effect.fork(reader(naiveChangesAfter).pipe(Effect.timeout("30 seconds")))
      yield* Effect.all(Array.from({ length: writers }, (_, w) => writer(w)), { concurrency: "unbounded", discard: true })
      const truth = yield* allSeqs
      yield* Ref.set(target, truth[truth.length - 1]!)

      const { seen: feedSeen, duringWrites } = yield* Fiber.join(feed)
      const { seen: naiveSeen } = yield* Fiber.join(naive)
      // The reader followed the writers (not one read at the end).
      expect(duringWrites).toBeGreaterThan(truth.length / 4)
      expect(truth.length).toBe(yield* Ref.get(committed)) // rolled-back changes left no row
      expect(truth.length).toBeGreaterThan(writers * transactionsEach)
      // Every committed change exactly once, in number order: no gap, no duplicate.
      expect(feedSeen).toEqual(truth)
      // The naive poll saw no duplicate and nothing uncommitted, but passed over late commits.
      const naiveSet = new Set(naiveSeen)
      expect(naiveSet.size).toBe(naiveSeen.length)
      const skipped = truth.filter((s) => !naiveSet.has(s))
      expect(skipped.length).toBeGreaterThan(0)
      yield* Effect.log(`feed: ${truth.length} changes, ${duringWrites} read while writing; the naive read skipped ${skipped.length}`)
    }).pipe(Effect.provide(freshDatabaseLayer(12))))

  it.scopedLive("a transaction open in another database of the server does not hold the feed back; one open here does", () =>
    Effect.gen(function* () {
      yield* migratePg()
      const sql = yield* SqlClient.SqlClient
      // Another database on the same server, with a transaction that holds an id (as another
      // application's would): server-wide, its id is older than everything written here next.
      const other = yield* freshDatabase
      const elsewhere = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new pg.Client({ connectionString: other.url })
          await client.connect()
          await client.query("BEGIN")
          await client.query("SELECT pg_current_xact_id()")
          return client
        }),
        (client) => Effect.promise(() => client.query("ROLLBACK").then(() => client.end()))
      )
      yield* sql.withTransaction(insertNotification("a"))
      const serverWide = sql`SELECT seq FROM change_log WHERE xid < pg_snapshot_xmin(pg_current_snapshot())`
      expect(yield* serverWide).toEqual([]) // the whole server's horizon: held by the other database
      expect((yield* changesAfter(0, 100)).map((r) => r.entityId)).toEqual(["a"])

      // One open here, older than the next change, holds it back until it ends.
      const hasId = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const here = yield* Effect.fork(sql.withTransaction(Effect.gen(function* () {
        yield* sql`SELECT pg_current_xact_id()`
        yield* Deferred.succeed(hasId, undefined)
        yield* Deferred.await(release)
      })))
      yield* Deferred.await(hasId)
      yield* sql.withTransaction(insertNotification("b"))
      expect((yield* changesAfter(0, 100)).map((r) => r.entityId)).toEqual(["a"])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(here)
      expect((yield* changesAfter(0, 100)).map((r) => r.entityId)).toEqual(["a", "b"])
      // The other database's transaction was open all along: the server-wide horizon still shows nothing.
      expect(yield* serverWide).toEqual([])
      yield* Effect.promise(() => elsewhere.query("SELECT 1"))
    }).pipe(Effect.provide(freshDatabaseLayer(4))))
})
