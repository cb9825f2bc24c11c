import { SqlClient } from "@effect/sql"
import { expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Deferred, Duration, Effect, Fiber, Layer, TestClock } from "effect"
import { call, type Reply, TestServer, testServer } from "./support.js"

/**
 * Moves the test clock on in steps until `request` is answered, letting sockets and SQLite run
 * between steps; fails if it is still waiting after `within` of clock.
 */
const answeredWithin = (request: Fiber.RuntimeFiber<Reply>, within: Duration.DurationInput) =>
  Effect.gen(function* () {
    const step = Duration.millis(100)
    let waited = Duration.zero
    for (;;) {
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
      const done = yield* Fiber.poll(request)
      if (done._tag === "Some") return { reply: yield* Fiber.join(request), waited }
      if (Duration.greaterThanOrEqualTo(waited, within)) {
        return yield* Effect.dieMessage(`/readyz still waiting after ${Duration.format(waited)} of clock`)
      }
      yield* TestClock.adjust(step)
      waited = Duration.sum(waited, step)
    }
  })

// The daemon is built inside each test, so its clock is the TestClock: readiness's bound is
// reached by moving the clock, never by waiting a second.
const withDaemon = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Layer.build(testServer()), (context) => Effect.provide(body, context))

it.scoped("/readyz answers within a second, not ready, while another process holds the write lock, and ready once it lets go", () =>
  withDaemon(Effect.gen(function* () {
    const { database } = yield* TestServer
    const other = new Database(database)
    other.exec("BEGIN IMMEDIATE")
    // Before the daemon closes: let go, and move the clock past any retry still waiting.
    yield* Effect.addFinalizer(() => Effect.sync(() => (other.inTransaction && other.exec("ROLLBACK"), other.close())).pipe(
      Effect.zipRight(TestClock.adjust("1 minute"))))
    const request = yield* Effect.fork(call("GET", "/readyz", { auth: false }))
    const { reply, waited } = yield* answeredWithin(request, "2 seconds")
    expect(reply.status).toBe(503)
    expect(reply.body).toMatchObject({ code: "NotReady", reason: "the writer has been busy for over a second" })
    expect(Duration.toMillis(waited)).toBeGreaterThanOrEqual(1_000)
    // The probe still retrying is joined, not repeated: its next try succeeds.
    other.exec("ROLLBACK")
    const after = yield* answeredWithin(yield* Effect.fork(call("GET", "/readyz", { auth: false })), "1 second")
    expect(after.reply.status).toBe(200)
  })))

it.scoped("/readyz answers within a second, not ready, behind a long write of Herald's own", () =>
  withDaemon(Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const release = yield* Deferred.make<void>()
    const started = yield* Deferred.make<void>()
    const write = yield* Effect.fork(sql.withTransaction(Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(release)))))
    yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined).pipe(Effect.zipRight(TestClock.adjust("1 minute"))))
    yield* Deferred.await(started)
    const request = yield* Effect.fork(call("GET", "/readyz", { auth: false }))
    const { reply } = yield* answeredWithin(request, "2 seconds")
    expect(reply.status).toBe(503)
    expect(reply.body.reason).toBe("the writer has been busy for over a second")
    yield* Deferred.succeed(release, undefined)
    yield* Fiber.join(write)
    const after = yield* answeredWithin(yield* Effect.fork(call("GET", "/readyz", { auth: false })), "1 second")
    expect(after.reply.status).toBe(200)
  })))
