import { expect, layer } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { tempDb } from "../support/herald.js"
import { call, eventually, openSse, TestServer, testServer, useDesktopSink } from "./support.js"

const enqueue = (n: number) =>
  Effect.flatMap(Herald, (h) => h.enqueueMany(Array.from({ length: n }, (_, i) => ({ kind: "consumers", title: `t${i}` }))))

/** Ten notifications' changes on a desktop sink: the feed's newest seq before (`start`) and after (`end`). */
const tenNewChanges = Effect.gen(function* () {
  yield* useDesktopSink
  const herald = yield* Herald
  const start = yield* herald.latestSeq
  yield* enqueue(10)
  return { start, end: yield* herald.latestSeq }
})

/** The changes a stream gives until it reaches `end`. */
const readUntil = (path: string, end: number, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const sse = yield* openSse(path, headers)
    expect(sse.status).toBe(200)
    yield* eventually(Effect.sync(() => sse.changes()), (c) => c.length > 0 && c[c.length - 1]!.seq >= end)
    yield* sse.close
    return sse.changes().map((e) => e.seq)
  })

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

layer(testServer(), { excludeTestServices: true })("durable consumers over HTTP", (it) => {
  it.effect("PUT /v1/consumers/:name commits an offset, and GET /v1/events?consumer= resumes after it with no gap and no duplicate", () =>
    Effect.gen(function* () {
      const { start, end } = yield* tenNewChanges
      const put = yield* call("PUT", "/v1/consumers/app", { body: { seq: start + 5 } })
      expect(put.status).toBe(200)
      expect(put.body).toMatchObject({ name: "app", seq: start + 5, lag: end - start - 5 })
      expect(yield* readUntil("/v1/events?consumer=app", end)).toEqual(range(start + 6, end))
    }))

  it.effect("Last-Event-ID wins over the stored offset, which wins over ?after=; an unknown consumer starts at ?after=", () =>
    Effect.gen(function* () {
      const { start, end } = yield* tenNewChanges
      yield* call("PUT", "/v1/consumers/precedence", { body: { seq: start + 5 } })
      expect((yield* readUntil(`/v1/events?consumer=precedence&after=${start}`, end))[0]).toBe(start + 6)
      expect((yield* readUntil(`/v1/events?consumer=precedence&after=${start}`, end, { "last-event-id": String(start + 8) }))[0]).toBe(start + 9)
      expect((yield* readUntil(`/v1/events?consumer=newcomer&after=${start + 2}`, end))[0]).toBe(start + 3)
      // Reading commits nothing: only a PUT moves an offset.
      expect((yield* call("GET", "/v1/consumers/precedence")).body.seq).toBe(start + 5)
      expect((yield* call("GET", "/v1/consumers/newcomer")).status).toBe(404)
    }))

  it.effect("a commit only moves forward: an older seq is 409 naming the committed offset, the same seq again is accepted", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      yield* enqueue(3)
      const newest = yield* herald.latestSeq
      expect((yield* call("PUT", "/v1/consumers/forward", { body: { seq: newest } })).status).toBe(200)
      const again = yield* call("PUT", "/v1/consumers/forward", { body: { seq: newest } })
      expect(again.status).toBe(200)
      const back = yield* call("PUT", "/v1/consumers/forward", { body: { seq: newest - 1 } })
      expect(back.status).toBe(409)
      expect(back.body).toMatchObject({ code: "OffsetBehind", consumer: "forward", committed: newest, requested: newest - 1 })
      expect(back.body.detail).toContain(String(newest))
      expect((yield* call("GET", "/v1/consumers/forward")).body.seq).toBe(newest)
    }))

  it.effect("a seq past the newest change, a bad seq or body, and a bad or reserved name are 400s that say why, and store nothing", () =>
    Effect.gen(function* () {
      const { database } = yield* TestServer
      const herald = yield* Herald
      const newest = yield* herald.latestSeq
      const offsets = () => new Database(database, { readonly: true }).prepare("SELECT consumer, seq FROM consumer_offsets ORDER BY consumer").all()
      const before = offsets()
      const cases: ReadonlyArray<readonly [string, unknown, string]> = [
        ["/v1/consumers/ahead", { seq: newest + 1 }, "seq"],
        ["/v1/consumers/negative", { seq: -1 }, "seq"],
        ["/v1/consumers/fraction", { seq: 1.5 }, "seq"],
        ["/v1/consumers/extra", { seq: 0, from: 0 }, "from"],
        ["/v1/consumers/supervisor", { seq: 0 }, "reserved"],
        ["/v1/consumers/herald.internal", { seq: 0 }, "reserved"],
        ["/v1/consumers/a%20b", { seq: 0 }, "name"],
        [`/v1/consumers/${"x".repeat(65)}`, { seq: 0 }, "name"]
      ]
      for (const [path, body, says] of cases) {
        const r = yield* call("PUT", path, { body })
        expect(r.status, path).toBe(400)
        expect(r.body.code, path).toBe("InvalidInput")
        expect(r.body.detail, path).toContain(says)
      }
      for (const path of ["/v1/events?consumer=supervisor", "/v1/consumers/supervisor", "/v1/events?consumer=a%20b"]) {
        const r = yield* call("GET", path)
        expect(r.status, path).toBe(400)
        expect(r.body.detail, path).toMatch(/consumer|name/)
      }
      expect((yield* call("DELETE", "/v1/consumers/supervisor")).status).toBe(400)
      expect(offsets()).toEqual(before)
    }))

  it.effect("GET /v1/consumers lists each consumer with its offset and lag; GET one, DELETE one (then 404)", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      yield* enqueue(4)
      const newest = yield* herald.latestSeq
      yield* call("PUT", "/v1/consumers/list-b", { body: { seq: newest } })
      yield* call("PUT", "/v1/consumers/list-a", { body: { seq: newest - 2 } })
      const list = yield* call("GET", "/v1/consumers")
      expect(list.status).toBe(200)
      const mine = (list.body.items as Array<{ name: string }>).filter((c) => c.name.startsWith("list-"))
      expect(mine).toMatchObject([{ name: "list-a", seq: newest - 2, lag: 2 }, { name: "list-b", seq: newest, lag: 0 }])
      expect((list.body.items as Array<{ name: string }>).some((c) => c.name === "supervisor")).toBe(false)
      expect((yield* call("GET", "/v1/consumers/list-a")).body).toMatchObject({ name: "list-a", seq: newest - 2, lag: 2 })
      expect((yield* call("DELETE", "/v1/consumers/list-a")).status).toBe(204)
      const gone = yield* call("GET", "/v1/consumers/list-a")
      expect(gone.status).toBe(404)
      expect(gone.body.code).toBe("ConsumerNotFound")
      expect((yield* call("DELETE", "/v1/consumers/list-a")).status).toBe(404)
    }))

  it.effect("an offset committed over HTTP survives a restart of the daemon on the same file", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const { committed, end } = yield* Effect.gen(function* () {
        yield* useDesktopSink
        const herald = yield* Herald
        const start = yield* herald.latestSeq
        yield* enqueue(6)
        expect((yield* call("PUT", "/v1/consumers/restart", { body: { seq: start + 4 } })).status).toBe(200)
        return { committed: start + 4, end: yield* herald.latestSeq }
      }).pipe(Effect.provide(testServer({}, {}, db)))
      yield* Effect.gen(function* () {
        expect((yield* call("GET", "/v1/consumers/restart")).body).toMatchObject({ name: "restart", seq: committed })
        expect(yield* readUntil("/v1/events?consumer=restart", end)).toEqual(range(committed + 1, end))
      }).pipe(Effect.provide(testServer({}, {}, db)))
    }).pipe(Effect.scoped))
})
