/** POST /v1/notifications/batch: one result per item in order, valid items accepted beside invalid ones, Idempotency-Key on the whole batch. */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { call, testServer, useDesktopSink } from "./support.js"

/** Rows of a table, as committed (read through the daemon's writer, so on either engine). */
const count = (table: "notifications" | "deliveries", where = "1 = 1") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(Effect.orDie(sql.unsafe<{ n: number | string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)), (rows) => Number(rows[0]!.n)))

const batch = (notifications: ReadonlyArray<unknown>, headers: Record<string, string> = {}) =>
  call("POST", "/v1/notifications/batch", { body: { notifications }, headers })

layer(testServer(), { excludeTestServices: true })("HTTP batch enqueue", (it) => {
  it.effect("mixed valid, invalid and duplicate items answer 207 with one result each, in order; a rejected item writes nothing; the accepted ones are delivered", () =>
    Effect.gen(function* () {
      yield* useDesktopSink
      const original = yield* call("POST", "/v1/notifications", { body: { kind: "mixed", title: "already here", dedupeKey: "mixed-old" } })
      const before = yield* count("notifications")
      const reply = yield* batch([
        { kind: "mixed", title: "first" },
        { kind: "mixed", title: "" },
        { kind: "mixed", title: "keyed", dedupeKey: "mixed-new" },
        { kind: "mixed", title: "keyed again", dedupeKey: "mixed-new" },
        { kind: "mixed", title: "old key", dedupeKey: "mixed-old" },
        { kind: "mixed", title: "misspelt", priorty: "high" },
        "not an object",
        { kind: "mixed", title: "NUL \u0000 inside" },
        { kind: "mixed", title: "last", priority: "urgent" }
      ])
      expect(reply.status).toBe(207)
      const results = reply.body.results as ReadonlyArray<{ index: number; status: number; notification?: { id: string; title: string }; problem?: any }>
      expect(results.map((r) => [r.index, r.status])).toEqual([[0, 201], [1, 400], [2, 201], [3, 200], [4, 200], [5, 400], [6, 400], [7, 400], [8, 201]])
      expect(results[0]!.notification).toMatchObject({ title: "first", kind: "mixed" })
      // A repeated dedupe key, in the batch or before it: the original notification.
      expect(results[3]!.notification!.id).toBe(results[2]!.notification!.id)
      expect(results[3]!.notification!.title).toBe("keyed")
      expect(results[4]!.notification!.id).toBe(original.body.notification.id)
      // Each rejected item carries the problem a single enqueue would answer, its paths within the item.
      expect(results[1]!.problem).toMatchObject({ status: 400, code: "InvalidInput", type: "urn:herald:problem:invalid-input", path: "title", title: "Invalid input" })
      expect(results[1]!.problem.detail).toContain("title")
      expect(results[5]!.problem.issues.map((i: { path: string }) => i.path)).toContain("priorty")
      expect(results[7]!.problem).toMatchObject({ path: "title" })
      expect(results[7]!.problem.issues[0].message).toContain("NUL")
      for (const r of results) expect(Object.keys(r).sort()).toEqual(r.status === 400 ? ["index", "problem", "status"] : ["index", "notification", "status"])
      // Three created, nothing of the rejected ones.
      expect((yield* count("notifications")) - before).toBe(3)
      expect(yield* count("notifications", "title IN ('', 'misspelt') OR title LIKE 'NUL%'")).toBe(0)
      // Each created one has its delivery; a claim hands them out.
      const created = results.filter((r) => r.status === 201).map((r) => r.notification!.id)
      const claimed = yield* call("POST", "/v1/sinks/desk/claim", { body: { owner: "batch-test", limit: 100 } })
      expect(claimed.status).toBe(200)
      const claimedIds = claimed.body.map((c: { notification: { id: string } }) => c.notification.id)
      expect(claimedIds).toEqual(expect.arrayContaining(created))
      for (const c of claimed.body.filter((x: { notification: { id: string } }) => created.includes(x.notification.id))) {
        const acked = yield* call("POST", `/v1/deliveries/${c.delivery.id}/ack`, { body: { owner: "batch-test", version: c.delivery.version } })
        expect(acked.body.status).toBe("sent")
      }
    }))

  it.effect("a batch with no bad item answers 201", () =>
    Effect.gen(function* () {
      const reply = yield* batch([{ kind: "clean", title: "a" }, { kind: "clean", title: "b", dedupeKey: "clean-1" }, { kind: "clean", title: "b again", dedupeKey: "clean-1" }])
      expect(reply.status).toBe(201)
      expect(reply.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 200])
      expect(yield* count("notifications", "kind = 'clean'")).toBe(2)
    }))

  it.effect("a batch whose every item is rejected answers 207 and writes nothing", () =>
    Effect.gen(function* () {
      const before = yield* count("notifications")
      let deep: unknown = 1
      for (let i = 0; i < 65; i++) deep = { a: deep }
      // A payload deeper than 64 levels is the item's own 400 (the body, at 67 levels, is within the request's 100).
      const reply = yield* batch([{ kind: "", title: "t" }, { title: "no kind" }, { kind: "k", title: "deep", payload: deep }])
      expect(reply.status).toBe(207)
      expect(reply.body.results.map((r: { status: number; problem: { path: string } }) => [r.status, r.problem.path])).toEqual([[400, "kind"], [400, "kind"], [400, "payload"]])
      expect(reply.body.results[2].problem.issues[0].message).toContain("64 levels")
      expect(yield* count("notifications")).toBe(before)
    }))

  it.effect("a body that is not {notifications: [...]} with 1 to 1,000 items is a 400 problem for the whole request, and writes nothing", () =>
    Effect.gen(function* () {
      const before = yield* count("notifications")
      const bodies: ReadonlyArray<unknown> = [
        [{ kind: "whole", title: "t" }],
        { kind: "whole", title: "t" },
        { notifications: { kind: "whole", title: "t" } },
        { notifications: [] },
        { notifications: [{ kind: "whole", title: "t" }], extra: true },
        { notifications: Array.from({ length: 1_001 }, (_, i) => ({ kind: "whole", title: `t${i}` })) }
      ]
      for (const body of bodies) {
        const reply = yield* call("POST", "/v1/notifications/batch", { body })
        expect(reply.status, JSON.stringify(body).slice(0, 100)).toBe(400)
        expect(reply.headers.get("content-type")).toContain("application/problem+json")
        expect(reply.body).toMatchObject({ status: 400, code: "InvalidInput" })
      }
      expect(yield* count("notifications")).toBe(before)
      // 1,000 is the bound, not past it.
      const full = yield* batch(Array.from({ length: 1_000 }, (_, i) => ({ kind: "whole", title: `t${i}` })))
      expect(full.status).toBe(201)
      expect(full.body.results).toHaveLength(1_000)
      expect(full.body.results.map((r: { index: number }) => r.index)).toEqual(Array.from({ length: 1_000 }, (_, i) => i))
      expect(yield* count("notifications", "kind = 'whole'")).toBe(1_000)
    }))

  it.effect("an Idempotency-Key on a batch: the same body answers the same notifications, another body 409", () =>
    Effect.gen(function* () {
      const headers = { "idempotency-key": "batch-idem-1" }
      const items = [{ kind: "idem", title: "one" }, { kind: "idem", title: "" }, { kind: "idem", title: "two", payload: { a: 1, b: 2 } }]
      const first = yield* batch(items, headers)
      expect(first.status).toBe(207)
      expect(first.body.results.map((r: { status: number }) => r.status)).toEqual([201, 400, 201])
      // The same request again, keys reordered and a default spelt out: the original notifications, each a repeat, and no new row.
      const again = yield* batch([{ title: "one", kind: "idem", priority: "normal" }, { kind: "idem", title: "" }, { kind: "idem", title: "two", payload: { b: 2, a: 1 } }], headers)
      expect(again.status).toBe(207)
      expect(again.body.results.map((r: { status: number }) => r.status)).toEqual([200, 400, 200])
      const ids = (r: typeof first) => r.body.results.map((x: { notification?: { id: string } }) => x.notification?.id)
      expect(ids(again)).toEqual(ids(first))
      expect(again.body.results[1].problem).toEqual(first.body.results[1].problem)
      expect(yield* count("notifications", "kind = 'idem'")).toBe(2)
      // Two identical items are two notifications: the key derives one dedupe key per index.
      const twins = yield* batch([{ kind: "idem", title: "twin" }, { kind: "idem", title: "twin" }], { "idempotency-key": "batch-idem-2" })
      expect(twins.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201])
      const other = yield* batch([{ kind: "idem", title: "one" }], headers)
      expect(other.status).toBe(409)
      expect(other.headers.get("content-type")).toContain("application/problem+json")
      expect(other.body).toMatchObject({ status: 409, code: "IdempotencyConflict", key: "batch-idem-1" })
      // A key of a single enqueue is not a batch's.
      yield* call("POST", "/v1/notifications", { body: { kind: "idem", title: "single" }, headers: { "idempotency-key": "batch-idem-3" } })
      expect((yield* batch([{ kind: "idem", title: "single" }], { "idempotency-key": "batch-idem-3" })).status).toBe(409)
      expect(yield* count("notifications", "kind = 'idem'")).toBe(5)
    }))
})
