import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option, Stream, TestClock } from "effect"
import { InvalidInput, Overloaded } from "../../src/domain/errors.js"
import { MemorySink } from "../../src/sinks/memory.js"
import fc from "fast-check"
import { isStorableText } from "../../src/domain/Notification.js"
import { Herald } from "../../src/layers/Herald.js"
import { eventually, holdWriteLock, ioTurn, memorySettings, provideHerald, sharedHerald, stays, tempDatabase, tempDir, withHerald } from "../support/herald.js"

describe("Enqueuer", () => {
  it.scoped("enqueue and enqueueMany inside an embedder's own transaction are written with it, and delivered once it commits", () =>
    withHerald((herald) => Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const mem = yield* MemorySink
      const [one, [many]] = yield* sql.withTransaction(Effect.all([
        herald.enqueue({ kind: "k", title: "one" }),
        herald.enqueueMany([{ kind: "k", title: "many" }])
      ]))
      expect([one.created, many!.created]).toEqual([true, true])
      const received = yield* eventually(mem.received, (r) => r.length === 2, "both delivered")
      expect(received.map((d) => d.notification.title).sort()).toEqual(["many", "one"])
      for (const n of [one, many!]) {
        const sent = (id: string) => Effect.map(herald.getNotification(id), (x) => x.deliveries.map((d) => d.status))
        yield* eventually(sent(n.notification.id), (s) => s.join() === "sent", "recorded as sent")
      }
    })), 20_000)

  it.scoped("a notification enqueued in a transaction that rolls back leaves no row, no lease and no delivery", () =>
    withHerald((herald) => Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const mem = yield* MemorySink
      const failed = yield* Effect.flip(sql.withTransaction(
        herald.enqueue({ kind: "k", title: "rolled back" }).pipe(Effect.zipRight(Effect.fail("the embedder's own failure" as const)))
      ))
      expect(failed).toBe("the embedder's own failure")
      // A later notification is delivered: the dispatcher was not left waiting on anything.
      const { notification } = yield* herald.enqueue({ kind: "k", title: "after" })
      yield* eventually(herald.getNotification(notification.id), (n) => n.deliveries[0]?.status === "sent", "the later one sent")
      expect((yield* mem.received).map((d) => d.notification.id)).toEqual([notification.id])
      expect((yield* herald.listNotifications({})).items.map((n) => n.title)).toEqual(["after"])
      expect((yield* herald.listDeliveries({ status: "leased" })).items).toEqual([])
    })), 20_000)

  it.scoped("a payload that cannot be stored as JSON fails its own call with the field named; callers sharing its batch are not touched", () =>
    withHerald((herald) => Effect.gen(function* () {
      const circular: Record<string, unknown> = {}
      circular["self"] = circular
      const bad = [{ n: 1n }, circular, { toJSON: () => 5 }]
      const results = yield* Effect.all([
        ...[1, 2, 3, 4, 5].map((i) => Effect.either(herald.enqueue({ kind: "k", title: `good ${i}` }))),
        ...bad.map((payload) => Effect.either(herald.enqueue({ kind: "k", title: "bad", payload })))
      ], { concurrency: "unbounded" })
      expect(results.slice(0, 5).every(Either.isRight)).toBe(true)
      for (const r of results.slice(5)) {
        const error = Either.getLeft(r).pipe(Option.getOrThrow)
        expect(error).toBeInstanceOf(InvalidInput)
        expect((error as InvalidInput).issues.map((x) => x.path)).toEqual(["payload"])
      }
      const many = yield* Effect.flip(herald.enqueueMany([{ kind: "k", title: "a" }, { kind: "k", title: "b", payload: { n: 2n } }]))
      expect(many.message).toContain("1.payload: it cannot be serialized as JSON")
      const titles = (yield* herald.listNotifications({})).items.map((n) => n.title).sort()
      expect(titles).toEqual(["good 1", "good 2", "good 3", "good 4", "good 5"])
    })), 20_000)

  it.scoped("input the database would refuse or store altered is InvalidInput at its field, never a storage error, and writes nothing", () =>
    withHerald((herald) => Effect.gen(function* () {
      const nested = (levels: number, leaf: unknown = 1): unknown => {
        let v = leaf
        for (let i = 0; i < levels; i++) v = { a: v }
        return v
      }
      const deepArray = (levels: number): unknown => {
        let v: unknown = []
        for (let i = 1; i < levels; i++) v = [v]
        return v
      }
      const cases: ReadonlyArray<readonly [unknown, string, string]> = [
        [{ kind: "\u0000", title: "t" }, "kind", "NUL"],
        [{ kind: "ci\u0000failed", title: "t" }, "kind", "NUL"],
        [{ kind: "k", title: "a\u0000b" }, "title", "NUL"],
        [{ kind: "k", title: "t", body: "\u0000" }, "body", "NUL"],
        [{ kind: "k", title: "t", sessionId: "s\u0000" }, "sessionId", "NUL"],
        // SQLite would store a lone surrogate as bytes that read back as other text.
        [{ kind: "k", title: "t", dedupeKey: "a\ud800" }, "dedupeKey", "surrogate"],
        [{ kind: "k", title: "t", projectId: "\udc00p" }, "projectId", "surrogate"],
        [{ kind: "k", title: "t", payload: nested(65) }, "payload", "64 levels"],
        [{ kind: "k", title: "t", payload: nested(3_000) }, "payload", "levels"],
        [{ kind: "k", title: "t", payload: nested(100_000) }, "payload", "levels"],
        [{ kind: deepArray(100_000), title: "t" }, "kind", "levels"],
        [nested(100_000), "a", "levels"]
      ]
      for (const [input, path, says] of cases) {
        for (const attempt of [herald.enqueue(input), Effect.map(herald.enqueueMany([input]), (r) => r[0]!)]) {
          const error = yield* Effect.flip(attempt)
          expect(error).toBeInstanceOf(InvalidInput)
          const issues = (error as InvalidInput).issues
          expect(issues.map((i) => i.path.replace(/^0\.?/, ""))).toEqual([path])
          expect(issues[0]!.message).toContain(says)
        }
      }
      expect((yield* herald.listNotifications({})).items).toEqual([])
      // At the bound a payload is taken: 64 levels, the payload object itself the first.
      const { created } = yield* herald.enqueue({ kind: "k", title: "t", payload: nested(64) })
      expect(created).toBe(true)
    })), 20_000)

  it.scoped("inside a transaction of another @effect/sql client (the embedder's own database), Herald still uses its own", () =>
    withHerald((herald) => Effect.gen(function* () {
      const dir = yield* tempDir
      const app = yield* SqliteClient.make({ filename: path.join(dir, "app.db") }).pipe(Effect.provide(Reactivity.layer))
      yield* app`CREATE TABLE orders (id INTEGER PRIMARY KEY, notification TEXT)`
      const ids = yield* app.withTransaction(Effect.gen(function* () {
        const { notification } = yield* herald.enqueue({ kind: "order.placed", title: "one" })
        const [many] = yield* herald.enqueueMany([{ kind: "order.placed", title: "many" }])
        yield* app`INSERT INTO orders (notification) VALUES (${notification.id})`
        // Reads inside it see Herald's database too, the change feed included.
        expect((yield* herald.getNotification(notification.id)).notification.title).toBe("one")
        const [first] = yield* herald.subscribe(0).pipe(Stream.take(1), Stream.runCollect)
        expect(first).toMatchObject({ entity: "settings" })
        return [notification.id, many!.notification.id]
      }))
      for (const id of ids) {
        yield* eventually(herald.getNotification(id), (n) => n.deliveries[0]?.status === "sent", "sent")
      }
      expect(yield* app`SELECT count(*) AS n FROM orders`).toEqual([{ n: 1 }])
      expect(yield* app`SELECT name FROM sqlite_master WHERE name IN ('notifications', 'deliveries')`).toEqual([])
    })), 20_000)
})

describe("Enqueuer batches", () => {
  it.scoped("enqueueBatch answers one result per item in order: the valid ones written in one transaction and delivered, each bad one rejected on its own", () =>
    withHerald((herald) => Effect.gen(function* () {
      const mem = yield* MemorySink
      const results = yield* herald.enqueueBatch([
        { kind: "k", title: "a", dedupeKey: "dk" },
        { kind: "k", title: "" },
        { kind: "k", title: "a again", dedupeKey: "dk" },
        { kind: "k", title: "b", payload: { n: 1n } },
        { kind: "k", title: "c" }
      ])
      expect(results.map((r) => [r.index, r._tag])).toEqual([[0, "Enqueued"], [1, "Rejected"], [2, "Enqueued"], [3, "Rejected"], [4, "Enqueued"]])
      const [a, empty, again, unstorable, c] = results
      expect(a).toMatchObject({ created: true, notification: { title: "a" } })
      expect(again).toMatchObject({ created: false, notification: { id: a!._tag === "Enqueued" ? a!.notification.id : "" } })
      // A rejected item's paths are within the item: its index says which.
      for (const [r, path] of [[empty, "title"], [unstorable, "payload"]] as const) {
        expect(r!._tag === "Rejected" && r!.error).toBeInstanceOf(InvalidInput)
        expect(r!._tag === "Rejected" ? r!.error.issues.map((i) => i.path) : []).toEqual([path])
      }
      expect(c).toMatchObject({ created: true, notification: { title: "c" } })
      expect((yield* herald.listNotifications({})).items.map((n) => n.title).sort()).toEqual(["a", "c"])
      const received = yield* eventually(mem.received, (r) => r.length === 2, "both delivered")
      expect(received.map((d) => d.notification.title).sort()).toEqual(["a", "c"])
      // enqueueMany keeps its all-or-nothing contract.
      expect(yield* Effect.flip(herald.enqueueMany([{ kind: "k", title: "d" }, { kind: "k", title: "" }]))).toBeInstanceOf(InvalidInput)
      expect((yield* herald.listNotifications({})).items).toHaveLength(2)
    })), 20_000)

  it.scoped("enqueueBatch inside an embedder's own transaction rolls back with it", () =>
    withHerald((herald) => Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const failed = yield* Effect.flip(sql.withTransaction(
        herald.enqueueBatch([{ kind: "k", title: "rolled back" }, { kind: "k" }]).pipe(
          Effect.tap((r) => expect(r.map((x) => x._tag)).toEqual(["Enqueued", "Rejected"])),
          Effect.zipRight(Effect.fail("the embedder's own failure" as const)))
      ))
      expect(failed).toBe("the embedder's own failure")
      expect((yield* herald.listNotifications({})).items).toEqual([])
      const committed = yield* sql.withTransaction(herald.enqueueBatch([{ kind: "k", title: "committed" }]))
      expect(committed.map((r) => r._tag)).toEqual(["Enqueued"])
      expect((yield* herald.listNotifications({})).items.map((n) => n.title)).toEqual(["committed"])
    })), 20_000)

  it.scoped("for any mix of good and bad items, enqueueBatch answers each at its index and writes exactly the good ones", () =>
    Effect.gen(function* () {
      const runtime = yield* sharedHerald
      const good = fc.record({ kind: fc.constant("prop"), title: fc.string({ minLength: 1, maxLength: 20 }).filter(isStorableText) })
      const bad = fc.oneof(
        fc.constant<unknown>({ kind: "prop", title: "" }),
        fc.constant<unknown>({ kind: "prop", title: "t", payload: { n: 1n } }),
        fc.constant<unknown>({ kind: "prop", title: "nul\u0000" }),
        fc.anything({ maxDepth: 1 }).filter((v) => typeof v !== "object" || v === null)
      )
      const item = fc.oneof(good.map((g) => ({ ok: true as const, input: g as unknown })), bad.map((b) => ({ ok: false as const, input: b })))
      let seen = 0
      yield* Effect.promise(() => fc.assert(fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 30 }), async (items) => {
        const { results, total } = await runtime.runPromise(Effect.gen(function* () {
          const herald = yield* Herald
          const results = yield* herald.enqueueBatch(items.map((i) => i.input))
          const total = (yield* herald.listNotifications({ kind: "prop", limit: 1_000 })).items.length
          return { results, total }
        }))
        expect(results.map((r) => r.index)).toEqual(items.map((_, i) => i))
        expect(results.map((r) => r._tag === "Enqueued")).toEqual(items.map((i) => i.ok))
        seen += items.filter((i) => i.ok).length
        expect(total).toBe(seen)
      }), { numRuns: 30 }))
    }), 60_000)
})

describe("Enqueuer backpressure", () => {
  it.scoped("past maxQueuedEnqueues, enqueue fails with Overloaded and writes nothing; everything accepted is written", () =>
    Effect.flatMap(tempDatabase, (database) => provideHerald(database, Effect.gen(function* () {
      const herald = yield* Herald
      yield* herald.putSettings(memorySettings)
      // Another process holds the write lock: accepted enqueues wait.
      const letGo = yield* holdWriteLock(database)
      const accepted = yield* Effect.forEach(Array.from({ length: 5 }, (_, i) => i), (i) =>
        Effect.fork(herald.enqueue({ kind: "k", title: `accepted ${i}` })))
      yield* stays(Effect.sync(() => accepted.map((f) => f.unsafePoll())), (r) => r.every((x) => x === null), "an enqueue finished while the lock was held")
      const refused = yield* Effect.flip(herald.enqueue({ kind: "k", title: "refused" }))
      expect(refused).toBeInstanceOf(Overloaded)
      expect(refused).toMatchObject({ queued: 5, limit: 5, retryAfterSeconds: 1 })
      expect(refused.message).toContain("retry in 1 s")
      // A batch that does not fit is refused whole.
      expect(yield* Effect.flip(herald.enqueueMany([{ kind: "k", title: "x" }]))).toBeInstanceOf(Overloaded)
      expect(yield* Effect.flip(herald.enqueueBatch([{ kind: "k", title: "x" }, { kind: "k", title: "" }]))).toBeInstanceOf(Overloaded)
      yield* letGo
      const results = yield* Effect.gen(function* () {
        for (;;) {
          yield* TestClock.adjust("1 second")
          yield* ioTurn
          if (accepted.every((f) => f.unsafePoll() !== null)) return yield* Effect.forEach(accepted, Fiber.join)
        }
      })
      expect(results.map((r) => r.notification.title)).toEqual([0, 1, 2, 3, 4].map((i) => `accepted ${i}`))
      const page = yield* herald.listNotifications({ limit: 100 })
      expect(page.items.map((n) => n.title).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `accepted ${i}`))
      // With room again, enqueues are accepted; one enqueueMany larger than the bound too, when nothing else waits.
      expect((yield* herald.enqueue({ kind: "k", title: "later" })).created).toBe(true)
      expect(yield* herald.enqueueMany(Array.from({ length: 8 }, (_, i) => ({ kind: "k", title: `big ${i}` })))).toHaveLength(8)
      expect(yield* herald.enqueueBatch(Array.from({ length: 8 }, (_, i) => ({ kind: "k", title: `bigger ${i}` })))).toHaveLength(8)
    }), { maxQueuedEnqueues: 5, background: false })))
})
