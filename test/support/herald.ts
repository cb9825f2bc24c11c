/**
 * Test support: a real Herald on a fresh database of the project's engine (a SQLite file in a
 * temp dir, or in vitest.config.ts's `pg` project a fresh PostgreSQL database), and state
 * polling without sleeps.
 */
import Sqlite from "better-sqlite3"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Exit, Layer, ManagedRuntime, type Scope, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { inject } from "vitest"
import { Herald, type HeraldConfig } from "../../src/layers/Herald.js"
import { ChangeLogStore } from "../../src/store/ChangeLogStore.js"
import { isPostgresUrl } from "../../src/store/StorageConfig.js"
import { freshDatabase } from "./postgres.js"

/** A fresh temp directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "herald-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A SQLite file path in a fresh temp directory (for the tests that are SQLite's own). */
export const tempDb = Effect.map(tempDir, (dir) => path.join(dir, "herald.db"))

/** The engine the engine-independent suites run on in this project: `pg` in the `pg` project of vitest.config.ts. */
export const testEngine = (): "sqlite" | "pg" => (inject("heraldEngine") === "pg" ? "pg" : "sqlite")

/**
 * A fresh database for a Herald of this project's engine: a SQLite file path in a temp dir, or a
 * fresh PostgreSQL database's URL on the run's throwaway server. Removed when the scope closes.
 */
export const tempDatabase: Effect.Effect<string, never, Scope.Scope> = Effect.suspend(() =>
  testEngine() === "pg" ? Effect.map(freshDatabase, ({ url }) => url) : tempDb)

/**
 * The rows of `query` on `database` (a SQLite file or a PostgreSQL URL), read by a connection
 * of its own, as another process would: for reading what a Herald left after it closed. BIGINT
 * counts come back as numbers on both engines; write the query in SQL both engines run.
 */
export const queryDatabase = <Row>(database: string, query: string): Effect.Effect<ReadonlyArray<Row>> =>
  Effect.promise(async () => {
    if (!isPostgresUrl(database)) {
      const db = new Sqlite(database, { readonly: true })
      try {
        return db.prepare(query).all() as Array<Row>
      } finally {
        db.close()
      }
    }
    const client = new pg.Client({
      connectionString: database,
      types: { getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === 20 ? Number : pg.types.getTypeParser(oid, format))) as pg.CustomTypesConfig["getTypeParser"] }
    })
    await client.connect()
    try {
      return (await client.query(query)).rows as Array<Row>
    } finally {
      await client.end()
    }
  })

/**
 * Another process holding what Herald's enqueue must wait for: SQLite's write lock (the
 * writer's busy backoff then runs on the test clock), or on PostgreSQL a lock on the
 * notifications table that every insert waits for. Gives the effect that lets go.
 */
export const holdWriteLock = (database: string) =>
  Effect.promise(async () => {
    if (!isPostgresUrl(database)) {
      const other = new Sqlite(database)
      other.exec("BEGIN IMMEDIATE")
      return Effect.sync(() => (other.exec("COMMIT"), other.close()))
    }
    const other = new pg.Client({ connectionString: database })
    await other.connect()
    await other.query("BEGIN")
    await other.query("LOCK TABLE notifications IN EXCLUSIVE MODE")
    return Effect.promise(async () => {
      await other.query("COMMIT")
      await other.end()
    })
  })

/**
 * The sequence numbers of the stored changes after `seq`, in order: what a feed reader must see.
 * SQLite numbers changes densely; PostgreSQL's carry the writer's transaction id and have holes,
 * so tests compare with these instead of counting up from a start.
 */
export const seqsAfter = (seq: number, limit = 100_000) =>
  Effect.flatMap(ChangeLogStore, (changes) => Effect.map(Effect.orDie(changes.after(seq, limit)), (events) => events.map((e) => e.seq)))

/** The settings most tests use: one memory sink `mem` routed from `low`, fast retries. */
export const memorySettings = {
  enabled: true,
  sinks: { mem: { type: "memory" } },
  routes: [{ sink: "mem", minPriority: "low" }],
  retry: { maxAttempts: 3, baseMs: 1_000, factor: 2, capMs: 60_000, maxRescues: 3 },
  leaseMs: 10_000
} as const

/** What a test may add to the config besides the database and the runtime tuning. */
export type ExtraConfig = Omit<HeraldConfig, "database" | "runtime">

/** The runtime on `database`; background fibers run under the test's clock. */
export const heraldLayer = (database: string, runtime: HeraldConfig["runtime"] = {}, extra: ExtraConfig = {}) =>
  caughtUpFeed(Herald.layer({ ...extra, database, runtime: { feedPollMs: 50, ...runtime } }))

/**
 * On PostgreSQL, until the change feed shows every committed change. The feed reads below the
 * oldest transaction still running in this database (src/store/pg/changeFeed.ts): one of the
 * runtime's own (a claim, an outcome batch) holds it back for a moment. A test that reads the
 * newest seq and then expects exactly the changes after it waits for that moment to pass. Real
 * time, not the TestClock.
 */
const feedCaughtUp = (changes: ChangeLogStore["Type"], sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    for (let i = 0; ; i++) {
      const [committed] = yield* Effect.orDie(sql<{ m: number | null }>`SELECT max(seq) AS m FROM change_log`)
      const { newest } = yield* Effect.orDie(changes.bounds)
      if ((newest ?? 0) >= (committed?.m ?? 0)) return
      if (i === 5_000) return yield* Effect.dieMessage("the change feed never caught up with the committed changes")
      yield* Effect.promise(() => new Promise<void>((r) => setTimeout(r, 2)))
    }
  })

/**
 * `layer` with the test's views of Herald and ChangeLogStore reading the feed only once it has
 * caught up (feedCaughtUp): `latestSeq`, `bounds` and `after`. The runtime under them is the
 * layer's own and sees the feed as it is. Unchanged on SQLite, whose feed is never held back.
 */
export const caughtUpFeed = <ROut, E, R>(layer: Layer.Layer<ROut | Herald | ChangeLogStore | SqlClient.SqlClient, E, R>): Layer.Layer<ROut | Herald | ChangeLogStore | SqlClient.SqlClient, E, R> =>
  testEngine() === "sqlite" ? layer : Layer.effectContext(Effect.gen(function* () {
    const herald = yield* Herald
    const changes = yield* ChangeLogStore
    const wait = feedCaughtUp(changes, yield* SqlClient.SqlClient)
    return Context.make(Herald, { ...herald, latestSeq: Effect.zipRight(wait, herald.latestSeq) }).pipe(
      Context.add(ChangeLogStore, {
        ...changes,
        bounds: Effect.zipRight(wait, changes.bounds),
        after: (seq: number, limit: number, until?: number) => Effect.zipRight(wait, changes.after(seq, limit, until)),
        page: (seq: number, limit: number, until?: number) => Effect.zipRight(wait, changes.page(seq, limit, until))
      }))
  })).pipe(Layer.provideMerge(layer))

/**
 * Waits until `check` holds by yielding to the runtime's other fibers (and to Node's I/O),
 * never by sleeping; fails with `what` after `rounds` tries. It never returns before `check` holds.
 *
 * On PostgreSQL (the `pg` project) I/O is really asynchronous: a runtime fiber whose query was
 * in flight when the test moved the TestClock plans its next wake from the new time, a
 * millisecond or so past it, and under the TestClock that wake never comes (in real time it
 * would come at once). So there, when `check` has not held for a while, the clock moves on 1 ms
 * every 200 tries, at most `pgNudgesMs` in all (past the test runtime's 50 ms feed poll, which
 * catches a commit whose wake-up found the feed held back: see feedCaughtUp); `nudges: false`
 * keeps it still, for a test that times what happens against the clock. On SQLite every query is synchronous,
 * so fibers are parked on their sleeps whenever the test moves the clock: it never moves here.
 */
export const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, ok: (a: A) => boolean, what: string, rounds = 5_000, nudges = true) =>
  Effect.gen(function* () {
    const maxNudges = nudges && testEngine() === "pg" ? pgNudgesMs : 0
    let last: A | undefined
    for (let i = 0; i < rounds; i++) {
      last = yield* check
      if (ok(last)) return last
      yield* Effect.yieldNow()
      if (i % 10 === 9) yield* Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
      if (i % 200 === 199 && i / 200 < maxNudges) yield* nudge
    }
    return yield* Effect.dieMessage(`never happened: ${what} (last: ${JSON.stringify(last)})`)
  })

/**
 * `eventually` for what the supervisor's feed poll catches at the latest (every `pollMs` of test
 * clock, the runtime's feedPollMs): when `check` has not held after a while, the clock moves on
 * one poll and it waits again, `polls` times at most. On PostgreSQL a commit's wake-up can find
 * the feed held back by a transaction still open in the database (see feedCaughtUp); the poll reads it.
 */
export const eventuallyByPoll = <A, E, R>(check: Effect.Effect<A, E, R>, ok: (a: A) => boolean, what: string, pollMs: number, polls = 5) =>
  Effect.gen(function* () {
    for (let p = 0; ; p++) {
      const exit = yield* Effect.exit(eventually(check, ok, what, 1_000))
      if (Exit.isSuccess(exit) || p === polls) return yield* exit
      yield* TestClock.adjust(pollMs)
    }
  })

/** How far `eventually` may move the TestClock on PostgreSQL, 1 ms at a time (see there). */
const pgNudgesMs = 60

/** The TestClock on 1 ms; nothing under a live clock (`it.live`), which moves by itself. */
const nudge = Effect.flatMap(Effect.clock, (clock) => ("adjust" in clock ? (clock as TestClock.TestClock).adjust(1) : Effect.void))

/** One turn of Node's event loop: I/O callbacks and immediates of this turn run first. */
export const ioTurn = Effect.promise(() => new Promise<void>((r) => setImmediate(r)))

/**
 * For "nothing happens yet": checks that `check` keeps holding while the runtime's other
 * fibers and Node's I/O get `rounds` turns (each a fiber yield; every tenth also an event-loop
 * turn), checking after each; fails with `what` the first time it does not. It never returns
 * before those turns were given, so a fiber that was about to act has had its chance.
 */
export const stays = <A, E, R>(check: Effect.Effect<A, E, R>, ok: (a: A) => boolean, what: string, rounds = 300) =>
  Effect.gen(function* () {
    for (let i = 0; i < rounds; i++) {
      yield* Effect.yieldNow()
      if (i % 10 === 9) yield* ioTurn
      const last = yield* check
      if (!ok(last)) return yield* Effect.dieMessage(`happened too early: ${what} (now: ${JSON.stringify(last)})`)
    }
  })

export const provideHerald = <A, E, R>(database: string, effect: Effect.Effect<A, E, R>, runtime?: HeraldConfig["runtime"], extra?: ExtraConfig) =>
  Effect.scoped(Effect.provide(effect, Layer.fresh(heraldLayer(database, runtime, extra))))

/** Runs `body` against a fresh Herald on a fresh database (tempDatabase), configured with `settings` first. */
export const withHerald = <A, E, R>(
  body: (herald: Herald["Type"]) => Effect.Effect<A, E, R>,
  runtime?: HeraldConfig["runtime"],
  settings: unknown = memorySettings,
  extra?: ExtraConfig
) =>
  Effect.gen(function* () {
    const db = yield* tempDatabase
    return yield* provideHerald(db, Effect.gen(function* () {
      const herald = yield* Herald
      yield* herald.putSettings(settings)
      return yield* body(herald)
    }), runtime, extra)
  })

/**
 * One Herald (no background fibers, the memory settings) on a fresh database for the whole scope,
 * to run many property-test cases against without opening a database per case.
 */
export const sharedHerald = Effect.gen(function* () {
  const database = yield* tempDatabase
  const runtime = yield* Effect.acquireRelease(
    Effect.sync(() => ManagedRuntime.make(Layer.fresh(heraldLayer(database, { background: false })))),
    (rt) => Effect.promise(() => rt.dispose())
  )
  yield* Effect.promise(() => runtime.runPromise(Effect.flatMap(Herald, (h) => h.putSettings(memorySettings))))
  return runtime
})
