/**
 * The NotificationStore contract, run on SQLite and PostgreSQL: a batch inserts each dedupe key
 * once and in order, payloads come back as written, routing marks only unrouted rows, and the
 * list pages newest first through its filters.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schema, type Scope } from "effect"
import { NotificationFilter, type NotificationRow, NotificationStore } from "../../../src/store/NotificationStore.js"
import { Writer } from "../../../src/store/Writer.js"
import { eventually, stays } from "../../support/herald.js"
import type { Engine, Storage } from "./engines.js"

const write = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flatMap(Writer, (w) => w.transaction(effect))

/** Ids in time order, as the runtime makes them: `ntf_0001`, `ntf_0002`, ... */
const idOf = (i: number) => `ntf_${String(i).padStart(4, "0")}`

const row = (i: number, extra: Partial<NotificationRow> = {}): NotificationRow => ({
  id: idOf(i),
  kind: "k",
  priority: "normal",
  title: `t${i}`,
  body: "",
  payload: "{}",
  dedupeKey: null,
  projectId: null,
  sessionId: null,
  createdAt: i,
  routedAt: null,
  ...extra
})

const filter = (f: typeof NotificationFilter.Encoded) => Schema.decodeSync(NotificationFilter)(f)

export const notificationStoreContract = (engine: Engine<NotificationStore>) =>
  describe(`NotificationStore on ${engine.name}`, () => {
    const test = <A, E>(name: string, body: Effect.Effect<A, E, NotificationStore | Storage | Scope.Scope>) =>
      it.scoped(name, () => Effect.provide(body, engine.storage))

    test("insertMany returns the ids it inserted: a dedupe key already stored or earlier in the batch is not inserted again", Effect.gen(function* () {
      const store = yield* NotificationStore
      const sql = yield* SqlClient.SqlClient
      expect(yield* write(store.insertMany([row(1, { dedupeKey: "x" })]))).toEqual(new Set([idOf(1)]))
      const inserted = yield* write(store.insertMany([
        row(2), row(3, { dedupeKey: "x" }), row(4, { dedupeKey: "y" }), row(5, { dedupeKey: "y" }), row(6)
      ]))
      expect(inserted).toEqual(new Set([idOf(2), idOf(4), idOf(6)]))
      expect(yield* write(store.insertMany([]))).toEqual(new Set())
      // In input order: the triggers' created changes follow the batch.
      const created = yield* sql<{ entityId: string }>`SELECT entity_id AS "entityId" FROM change_log WHERE event = 'created' ORDER BY seq`
      expect(created.map((r) => r.entityId)).toEqual([idOf(1), idOf(2), idOf(4), idOf(6)])
      const found = yield* write(store.byDedupeKeys(["y", "x", "none"]))
      expect(found.map((n) => [n.dedupeKey, n.id]).sort()).toEqual([["x", idOf(1)], ["y", idOf(4)]])
      expect(yield* write(store.byDedupeKeys([]))).toEqual([])
    }))

    test("two batches racing for one dedupe key: the one that commits first inserts it, the other finds it", Effect.gen(function* () {
      const store = yield* NotificationStore
      const sql = yield* SqlClient.SqlClient
      const inserted = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const first = yield* Effect.fork(write(Effect.gen(function* () {
        const ids = yield* store.insertMany([row(1, { dedupeKey: "x" })])
        yield* Deferred.succeed(inserted, undefined)
        yield* Deferred.await(release)
        return ids
      })))
      yield* Deferred.await(inserted)
      const second = yield* Effect.fork(write(Effect.gen(function* () {
        const ids = yield* store.insertMany([row(2, { dedupeKey: "x" }), row(3)])
        return { ids, existing: (yield* store.byDedupeKeys(["x"])).map((n) => n.id) }
      })))
      yield* Effect.gen(function* () {
        if (engine.concurrentWriters) {
          // The second waits on the first's uncommitted key, neither inserting nor skipping yet.
          yield* eventually(sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
                                               WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            (r) => r[0]!.n === 1, "the second batch waits for the first's key")
        } else {
          yield* stays(Effect.sync(() => second.unsafePoll()), (r) => r === null, "the second batch ran beside an open write")
        }
      }).pipe(Effect.ensuring(Deferred.succeed(release, undefined)))
      expect(yield* Fiber.join(first)).toEqual(new Set([idOf(1)]))
      expect(yield* Fiber.join(second)).toEqual({ ids: new Set([idOf(3)]), existing: [idOf(1)] })
    }))

    test("a stored notification reads back field for field, its payload parsed as written", Effect.gen(function* () {
      const store = yield* NotificationStore
      const payload = { quote: "a \"b\" \\ c", nested: [1, 2.5, { k: null, t: true }], unicode: "é 😀 \u2028", empty: {} }
      yield* write(store.insertMany([
        row(1, {
          kind: "deploy", priority: "urgent", title: "T", body: "line\nline", payload: JSON.stringify(payload),
          dedupeKey: "d", projectId: "p", sessionId: "s", createdAt: 1_700_000_000_123, routedAt: 1_700_000_000_456
        }),
        row(2)
      ]))
      const n = yield* store.get(idOf(1))
      expect(n).toMatchObject({
        id: idOf(1), kind: "deploy", priority: "urgent", title: "T", body: "line\nline", payload,
        dedupeKey: "d", projectId: "p", sessionId: "s", createdAt: 1_700_000_000_123, routedAt: 1_700_000_000_456
      })
      expect(yield* store.get(idOf(2))).toMatchObject({ payload: {}, dedupeKey: null, projectId: null, sessionId: null, routedAt: null })
      expect(yield* store.get("ntf_missing")).toBeUndefined()
      // The document is kept as the writer gave it: spacing, key order, a repeated key.
      const text = `{ "z": 1,  "a": [ ], "z": 2 }`
      yield* write(store.insertMany([row(3, { payload: text })]))
      const sql = yield* SqlClient.SqlClient
      const stored = yield* sql<{ payload: string }>`SELECT CAST(payload AS TEXT) AS payload FROM notifications WHERE id = ${idOf(3)}`
      expect(stored[0]!.payload).toBe(text)
      expect(Object.keys((yield* store.get(idOf(3)))!.payload)).toEqual(["z", "a"])
    }))

    test("a batch of 2,500 rows is inserted whole", Effect.gen(function* () {
      const store = yield* NotificationStore
      const rows = Array.from({ length: 2_500 }, (_, i) => row(i + 1, i % 7 === 0 ? { dedupeKey: `k${i % 21}` } : {}))
      const inserted = yield* write(store.insertMany(rows))
      // Keys k0, k7, k14 repeat every 21 rows: only their first row is inserted.
      const expected = rows.filter((r, i) => r.dedupeKey === null || i < 21).map((r) => r.id)
      expect([...inserted].sort()).toEqual(expected)
      expect((yield* store.list(filter({ limit: 1_000 }))).items).toHaveLength(1_000)
    }))

    test("markRouted marks only notifications not routed yet; unrouted lists the waiting ones oldest first, at most limit", Effect.gen(function* () {
      const store = yield* NotificationStore
      yield* write(store.insertMany([row(1, { createdAt: 30 }), row(2, { createdAt: 10, routedAt: 5 }), row(3, { createdAt: 20 }), row(4, { createdAt: 40 })]))
      expect((yield* write(store.unrouted(10))).map((n) => n.id)).toEqual([idOf(3), idOf(1), idOf(4)])
      expect((yield* write(store.unrouted(2))).map((n) => n.id)).toEqual([idOf(3), idOf(1)])
      yield* write(store.markRouted([idOf(1), idOf(2)], 99))
      expect((yield* store.get(idOf(1)))?.routedAt).toBe(99)
      expect((yield* store.get(idOf(2)))?.routedAt).toBe(5)
      expect((yield* write(store.unrouted(10))).map((n) => n.id)).toEqual([idOf(3), idOf(4)])
      yield* write(store.markRouted([], 100))
      expect((yield* write(store.unrouted(10))).map((n) => n.id)).toEqual([idOf(3), idOf(4)])
    }))

    test("list pages newest first by id, through every filter", Effect.gen(function* () {
      const store = yield* NotificationStore
      yield* write(store.insertMany([
        row(1, { kind: "a", priority: "low", projectId: "p1", sessionId: "s1" }),
        row(2, { kind: "b", priority: "high", projectId: "p1" }),
        row(3, { kind: "a", priority: "high", projectId: "p2", sessionId: "s1" }),
        row(4, { kind: "a", priority: "low" }),
        row(5, { kind: "b", priority: "urgent", sessionId: "s2" })
      ]))
      const ids = (f: typeof NotificationFilter.Encoded) => Effect.map(store.list(filter(f)), (page) => ({ ids: page.items.map((n) => n.id), next: page.next }))
      expect(yield* ids({ limit: 2 })).toEqual({ ids: [idOf(5), idOf(4)], next: idOf(4) })
      expect(yield* ids({ limit: 2, after: idOf(4) })).toEqual({ ids: [idOf(3), idOf(2)], next: idOf(2) })
      expect(yield* ids({ limit: 2, after: idOf(2) })).toEqual({ ids: [idOf(1)], next: null })
      expect(yield* ids({ limit: 5 })).toEqual({ ids: [idOf(5), idOf(4), idOf(3), idOf(2), idOf(1)], next: null })
      expect((yield* ids({ kind: "a" })).ids).toEqual([idOf(4), idOf(3), idOf(1)])
      expect((yield* ids({ priority: "high" })).ids).toEqual([idOf(3), idOf(2)])
      expect((yield* ids({ projectId: "p1" })).ids).toEqual([idOf(2), idOf(1)])
      expect((yield* ids({ sessionId: "s1" })).ids).toEqual([idOf(3), idOf(1)])
      expect((yield* ids({ since: 3 })).ids).toEqual([idOf(5), idOf(4), idOf(3)])
      expect(yield* ids({ kind: "a", priority: "low", limit: 1 })).toEqual({ ids: [idOf(4)], next: idOf(4) })
      expect(yield* ids({ kind: "a", priority: "low", limit: 1, after: idOf(4) })).toEqual({ ids: [idOf(1)], next: null })
    }))
  })
