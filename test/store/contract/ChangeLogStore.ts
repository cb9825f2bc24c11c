/**
 * The ChangeLogStore contract, run on SQLite and PostgreSQL: the triggers' changes come back in
 * order with their payloads, a change that commits late is never passed over (by `after`,
 * `summaryAfter` or `bounds`), offsets only move forward, retention cuts from the oldest.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, type Scope } from "effect"
import { ChangeLogStore } from "../../../src/store/ChangeLogStore.js"
import type { ChangeEvent } from "../../../src/domain/ChangeEvent.js"
import { Writer } from "../../../src/store/Writer.js"
import type { Engine, Storage } from "./engines.js"

const insertNotification = (id: string, createdAt = 1) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO notifications (id, kind, priority, title, created_at) VALUES (${id}, 'k', 'normal', ${`title ${id}`}, ${createdAt})`)

const write = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flatMap(Writer, (w) => w.transaction(effect))

const brief = (events: ReadonlyArray<ChangeEvent>) => events.map((e) => `${e.entity}:${e.entityId}:${e.event}`)

export const changeLogStoreContract = (engine: Engine<ChangeLogStore>) =>
  describe(`ChangeLogStore on ${engine.name}`, () => {
    const test = <A, E>(name: string, body: Effect.Effect<A, E, ChangeLogStore | Storage | Scope.Scope>) =>
      it.scoped(name, () => Effect.provide(body, engine.storage))

    test("the triggers' changes come back through after in order, with parsed payloads, bounded by limit and until", Effect.gen(function* () {
      const changes = yield* ChangeLogStore
      const sql = yield* SqlClient.SqlClient
      expect(yield* changes.after(0, 100)).toEqual([])
      expect(yield* changes.page(0, 100)).toEqual({ rows: [], prunedThrough: 0 })
      expect(yield* changes.bounds).toEqual({ oldest: null, newest: null, prunedThrough: 0 })
      yield* write(sql`INSERT INTO settings (id, document, version, updated_at) VALUES (1, '{}', 1, 5)`)
      yield* write(Effect.zipRight(insertNotification("n1", 7), insertNotification("n2", 8)))
      yield* write(sql`UPDATE notifications SET routed_at = 9 WHERE id = 'n1'`)
      yield* write(sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, created_at, updated_at)
                       VALUES ('d1', 'n1', 'mem', 'pending', 3, 10, 10)`)
      const all = yield* changes.after(0, 100)
      expect(brief(all)).toEqual([
        "settings:settings:updated", "notification:n1:created", "notification:n2:created",
        "notification:n1:routed", "delivery:d1:created"
      ])
      expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b))
      expect(new Set(all.map((e) => e.seq)).size).toBe(all.length)
      expect(all[0]!.payload).toEqual({ version: 1 })
      expect(all[1]).toMatchObject({
        createdAt: 7,
        payload: { kind: "k", priority: "normal", title: "title n1", projectId: null, sessionId: null, routedAt: null }
      })
      expect(all[3]).toMatchObject({ createdAt: 9, payload: { routedAt: 9 } })
      expect(all[4]!.payload).toMatchObject({ notificationId: "n1", sink: "mem", status: "pending", attempts: 0 })
      // A page, the next page, and a range that ends before `until`.
      expect(brief(yield* changes.after(0, 2))).toEqual(brief(all.slice(0, 2)))
      expect(brief(yield* changes.after(all[1]!.seq, 2))).toEqual(brief(all.slice(2, 4)))
      expect(brief(yield* changes.after(all[0]!.seq, 100, all[3]!.seq))).toEqual(brief(all.slice(1, 3)))
      // The same pages with retention's mark read beside them (nothing pruned yet).
      const pruned = changes.denseSeq ? all[0]!.seq - 1 : 0
      expect(yield* changes.page(all[1]!.seq, 2)).toEqual({ rows: all.slice(2, 4), prunedThrough: pruned })
      expect(yield* changes.page(all[0]!.seq, 100, all[3]!.seq)).toEqual({ rows: all.slice(1, 3), prunedThrough: pruned })
      expect(yield* changes.page(all[4]!.seq, 100)).toEqual({ rows: [], prunedThrough: pruned })
      expect(yield* changes.bounds).toEqual({ oldest: all[0]!.seq, newest: all[4]!.seq, prunedThrough: changes.denseSeq ? all[0]!.seq - 1 : 0 })
      expect(yield* changes.summaryAfter(0)).toEqual({ newest: all[4]!.seq, settings: all[0]!.seq })
      expect(yield* changes.summaryAfter(all[0]!.seq)).toEqual({ newest: all[4]!.seq, settings: null })
      expect(yield* changes.summaryAfter(all[4]!.seq)).toEqual({ newest: null, settings: null })
      // A reader's lag is the count of changes still to read, whatever the numbers' holes.
      expect(yield* changes.countAfter(0)).toBe(5)
      expect(yield* changes.countAfter(all[1]!.seq)).toBe(3)
      expect(yield* changes.countAfter(all[4]!.seq)).toBe(0)
    }))

    test("a transaction that commits after a later one is not passed over by a reader polling after, summaryAfter or bounds", Effect.gen(function* () {
      const changes = yield* ChangeLogStore
      const sql = yield* SqlClient.SqlClient
      yield* write(insertNotification("base"))
      const seen: Array<ChangeEvent> = []
      const poll = Effect.gen(function* () {
        const rows = yield* changes.after(seen.at(-1)?.seq ?? 0, 100)
        seen.push(...rows)
        return rows
      })
      expect(brief(yield* poll)).toEqual(["notification:base:created"])
      const cursor = seen.at(-1)!.seq

      // A writes its change, then stays open; B writes after it and commits first (on SQLite B
      // waits for A: one writer).
      const aWrote = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const a = yield* Effect.fork(write(Effect.gen(function* () {
        yield* insertNotification("a")
        yield* Deferred.succeed(aWrote, undefined)
        yield* Deferred.await(release)
      })))
      yield* Deferred.await(aWrote)
      const b = yield* Effect.fork(write(insertNotification("b")))
      yield* Effect.gen(function* () {
        if (engine.concurrentWriters) {
          yield* Fiber.join(b)
          // B has committed: a read that trusts seq alone sees it already.
          const committed = yield* sql<{ entityId: string }>`SELECT entity_id AS "entityId" FROM change_log WHERE seq > ${cursor}`
          expect(committed.map((r) => r.entityId)).toEqual(["b"])
        }
        // Nothing after the cursor may be reported while A can still commit before it.
        expect(brief(yield* poll)).toEqual([])
        expect((yield* changes.page(cursor, 100)).rows).toEqual([])
        expect(yield* changes.summaryAfter(cursor)).toEqual({ newest: null, settings: null })
        expect((yield* changes.bounds).newest).toBe(cursor)
      }).pipe(Effect.ensuring(Deferred.succeed(release, undefined))) // A ends (and gives back its connection) whatever happened
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      const summary = yield* changes.summaryAfter(cursor)
      yield* poll
      expect(brief(seen)).toEqual(["notification:base:created", "notification:a:created", "notification:b:created"])
      expect(summary.newest).toBe(seen.at(-1)!.seq)
      expect((yield* changes.bounds).newest).toBe(seen.at(-1)!.seq)
    }))

    test("commitOffset moves an offset only forward (the same seq again is accepted); saveOffset sets it; deleteOffset removes it", Effect.gen(function* () {
      const changes = yield* ChangeLogStore
      expect(yield* changes.offset("c")).toBeNull()
      expect(yield* changes.offsetRow("c")).toBeUndefined()
      expect(yield* write(changes.commitOffset("c", 5, 100))).toEqual({ moved: true, seq: 5 })
      expect(yield* write(changes.commitOffset("c", 5, 101))).toEqual({ moved: true, seq: 5 })
      expect(yield* write(changes.commitOffset("c", 3, 102))).toEqual({ moved: false, seq: 5 })
      expect(yield* changes.offsetRow("c")).toEqual({ consumer: "c", seq: 5, updatedAt: 101 })
      expect(yield* write(changes.commitOffset("c", 9, 103))).toEqual({ moved: true, seq: 9 })
      expect(yield* changes.offset("c")).toBe(9)
      // Two consumers, listed by name.
      yield* write(changes.saveOffset("a", 4, 104))
      expect(yield* changes.offsets).toEqual([
        { consumer: "a", seq: 4, updatedAt: 104 },
        { consumer: "c", seq: 9, updatedAt: 103 }
      ])
      // saveOffset is the runtime's own: it sets, backwards too.
      yield* write(changes.saveOffset("c", 2, 105))
      expect(yield* changes.offsetRow("c")).toEqual({ consumer: "c", seq: 2, updatedAt: 105 })
      expect(yield* write(changes.deleteOffset("c"))).toBe(true)
      expect(yield* write(changes.deleteOffset("c"))).toBe(false)
      expect(yield* changes.offset("c")).toBeNull()
      expect((yield* changes.offsets).map((o) => o.consumer)).toEqual(["a"])
    }))

    test("prune cuts the oldest changes made before the cutoff, stops at the first kept, never passes upTo or takes the newest", Effect.gen(function* () {
      const changes = yield* ChangeLogStore
      // Created at 1, 2, 5, 3, 4: the walk stops at 5 though 3 is older.
      for (const [id, at] of [["r1", 1], ["r2", 2], ["r3", 5], ["r4", 3], ["r5", 4]] as const) yield* write(insertNotification(id, at))
      const seqs = (yield* changes.after(0, 100)).map((e) => e.seq)
      const left = Effect.map(changes.after(0, 100), brief)
      expect(yield* write(changes.prune(4, seqs[0]!, 100))).toBe(1) // not past upTo
      expect(yield* write(changes.prune(4, seqs.at(-1)!, 100))).toBe(1) // r2; r3 (created at 5) is kept, so is all after it
      expect(yield* left).toEqual(["notification:r3:created", "notification:r4:created", "notification:r5:created"])
      expect(yield* write(changes.prune(100, seqs.at(-1)!, 1))).toBe(1) // at most limit
      expect(yield* write(changes.prune(100, seqs.at(-1)!, 100))).toBe(1) // all but the newest
      expect(yield* left).toEqual(["notification:r5:created"])
      expect(yield* write(changes.prune(100, seqs.at(-1)!, 100))).toBe(0)
      // Everything before the newest was pruned, and a reader below it is told so.
      expect(yield* changes.bounds).toEqual({ oldest: seqs.at(-1), newest: seqs.at(-1), prunedThrough: seqs.at(-2) })
      // A page read by a reader that stood before the cut carries the mark with the rows left.
      expect(yield* changes.page(seqs[0]!, 100)).toEqual({ rows: yield* changes.after(0, 100), prunedThrough: seqs.at(-2) })
    }))

    test("countablesAfter returns created notifications and attempts settled from leased in (seq, upTo], with sink and error code", Effect.gen(function* () {
      const changes = yield* ChangeLogStore
      const sql = yield* SqlClient.SqlClient
      const start = (yield* changes.bounds).newest ?? 0
      yield* write(insertNotification("n1", 1))
      yield* write(sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, created_at, updated_at)
                       VALUES ('d1', 'n1', 'hook', 'pending', 3, 2, 2), ('d2', 'n1', 'mail', 'pending', 3, 2, 2)`)
      const lease = (id: string) =>
        write(sql`UPDATE deliveries SET status = 'leased', lease_owner = 'w', lease_expires_at = 99, updated_at = 3 WHERE id = ${id}`)
      yield* lease("d1")
      yield* lease("d2")
      yield* write(sql`UPDATE deliveries SET status = 'sent', lease_owner = NULL, lease_expires_at = NULL, attempts = 1, updated_at = 4 WHERE id = 'd1'`)
      yield* write(sql`UPDATE deliveries SET status = 'retry_wait', lease_owner = NULL, lease_expires_at = NULL, attempts = 1,
                       last_error_code = 'http_500', next_attempt_at = 50, updated_at = 5 WHERE id = 'd2'`)
      // Due again: pending from retry_wait is not an attempt.
      yield* write(sql`UPDATE deliveries SET status = 'pending', updated_at = 6 WHERE id = 'd2'`)
      const newest = (yield* changes.bounds).newest!
      const rows = yield* changes.countablesAfter(start, newest)
      expect(rows.map(({ seq: _, ...r }) => r)).toEqual([
        { entity: "notification", entityId: "n1", event: "created", sink: null, errorCode: null, createdAt: 1 },
        { entity: "delivery", entityId: "d1", event: "sent", sink: "hook", errorCode: null, createdAt: 4 },
        { entity: "delivery", entityId: "d2", event: "retry_wait", sink: "mail", errorCode: "http_500", createdAt: 5 }
      ])
      // (seq, upTo]: the first row's own seq excludes it, the last row's includes it.
      expect((yield* changes.countablesAfter(rows[0]!.seq, rows[2]!.seq)).map((r) => r.entityId)).toEqual(["d1", "d2"])
      expect((yield* changes.countablesAfter(start, rows[1]!.seq)).map((r) => r.entityId)).toEqual(["n1", "d1"])
    }))

    test("gaveUpAfter returns the deliveries that went dead or were created skipped in (seq, upTo], in order, with their notification", Effect.gen(function* () {
      const changes = yield* ChangeLogStore
      const sql = yield* SqlClient.SqlClient
      const start = (yield* changes.bounds).newest ?? 0
      yield* write(insertNotification("n1", 1))
      yield* write(sql`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, reason, created_at, updated_at)
                       VALUES ('d1', 'n1', 'hook', 'pending', 3, NULL, 2, 2), ('d2', 'n1', 'agent', 'skipped', 3, 'no agent sink', 2, 2)`)
      const skipped = (yield* changes.bounds).newest!
      yield* write(sql`UPDATE deliveries SET status = 'leased', lease_owner = 'w', lease_expires_at = 99, updated_at = 3 WHERE id = 'd1'`)
      yield* write(sql`UPDATE deliveries SET status = 'dead', lease_owner = NULL, lease_expires_at = NULL, attempts = 3,
                       last_error_code = 'http_410', updated_at = 4 WHERE id = 'd1'`)
      const newest = (yield* changes.bounds).newest!
      expect((yield* changes.gaveUpAfter(start, newest)).map(({ seq: _, ...r }) => r)).toEqual([
        { deliveryId: "d2", notificationId: "n1" },
        { deliveryId: "d1", notificationId: "n1" }
      ])
      expect((yield* changes.gaveUpAfter(skipped, newest)).map((r) => r.deliveryId)).toEqual(["d1"])
      expect(yield* changes.gaveUpAfter(newest, newest)).toEqual([])
    }))
  })
