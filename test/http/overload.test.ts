/** Backpressure over HTTP: past the bound of enqueues waiting to be written, 503 with Retry-After (a batch refused whole); nothing accepted is lost. */
import { expect, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { holdWriteLock, queryDatabase, stays } from "../support/herald.js"
import { call, TestServer, testServer } from "./support.js"

layer(testServer({}, { maxQueuedEnqueues: 2 }), { excludeTestServices: true })("HTTP backpressure", (it) => {
  it.effect("past the bound of queued enqueues an enqueue or a batch answers 503 Overloaded with Retry-After and writes nothing; those accepted are written", () =>
    Effect.gen(function* () {
      const { database } = yield* TestServer
      const herald = yield* Herald
      const titles = Effect.map(queryDatabase<{ title: string }>(database, "SELECT title FROM notifications ORDER BY title"), (rows) => rows.map((r) => r.title))
      // Another process holds the write lock: two accepted enqueues wait for it, filling the bound.
      const letGo = yield* holdWriteLock(database)
      const accepted = yield* Effect.forEach([0, 1], (i) => Effect.fork(herald.enqueue({ kind: "k", title: `accepted ${i}` })))
      yield* stays(Effect.sync(() => accepted.map((f) => f.unsafePoll())), (r) => r.every((x) => x === null), "written while the lock was held")
      const refused = yield* call("POST", "/v1/notifications", { body: { kind: "k", title: "refused" } })
      expect(refused.status).toBe(503)
      expect(refused.headers.get("retry-after")).toBe("1")
      expect(refused.headers.get("content-type")).toContain("application/problem+json")
      expect(refused.body).toMatchObject({ status: 503, code: "Overloaded", queued: 2, limit: 2 })
      expect(refused.body.detail).toContain("retry in 1 s")
      // A batch is refused whole, its valid and its invalid items alike.
      const batch = yield* call("POST", "/v1/notifications/batch", { body: { notifications: [{ kind: "k", title: "refused batch" }, { kind: "k", title: "" }] } })
      expect(batch.status).toBe(503)
      expect(batch.headers.get("retry-after")).toBe("1")
      expect(batch.body).toMatchObject({ status: 503, code: "Overloaded" })
      yield* letGo
      const answers = yield* Effect.forEach(accepted, Fiber.join)
      expect(answers.map((a) => a.created)).toEqual([true, true])
      expect((yield* titles)).toEqual(["accepted 0", "accepted 1"])
      // With room again, the same request is accepted.
      expect((yield* call("POST", "/v1/notifications", { body: { kind: "k", title: "refused" } })).status).toBe(201)
    }))
})
