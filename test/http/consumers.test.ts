import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { tempDatabase } from "../support/herald.js"
import { call, eventually, openSse, storedSeqs, testServer, useDesktopSink } from "./support.js"

const enqueue = (n: number) =>
  Effect.flatMap(Herald, (h) => h.enqueueMany(Array.from({ length: n }, (_, i) => ({ kind: "consumers", title: `t${i}` }))))

/** Ten notifications' changes on a desktop sink: the feed's newest seq before (`start`) and after (`end`), and the changes' seqs. */
const tenNewChanges = Effect.gen(function* () {
  yield* useDesktopSink
  const herald = yield* Herald
  const start = yield* herald.latestSeq
  yield* enqueue(10)
  const end = yield* herald.latestSeq
  return { start, end, seqs: yield* storedSeqs(start, end) }
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

layer(testServer(), { excludeTestServices: true })("durable consumers over HTTP", (it) => {
  it.effect("PUT /v1/consumers/:name commits an offset, and GET /v1/events?consumer= resumes after it with no gap and no duplicate", () =>
    Effect.gen(function* () {
      const { end, seqs } = yield* tenNewChanges
      const put = yield* call("PUT", "/v1/consumers/app", { body: { seq: seqs[4] } })
      expect(put.status).toBe(200)
      expect(put.body).toMatchObject({ name: "app", seq: seqs[4], lag: seqs.length - 5 })
      expect(yield* readUntil("/v1/events?consumer=app", end)).toEqual(seqs.slice(5))
    }))

  it.effect("Last-Event-ID wins over the stored offset, which wins over ?after=; an unknown consumer starts at ?after=", () =>
    Effect.gen(function* () {
      const { start, end, seqs } = yield* tenNewChanges
      yield* call("PUT", "/v1/consumers/precedence", { body: { seq: seqs[4] } })
      expect((yield* readUntil(`/v1/events?consumer=precedence&after=${start}`, end))[0]).toBe(seqs[5])
      expect((yield* readUntil(`/v1/events?consumer=precedence&after=${start}`, end, { "last-event-id": String(seqs[7]) }))[0]).toBe(seqs[8])
      expect((yield* readUntil(`/v1/events?consumer=newcomer&after=${seqs[1]}`, end))[0]).toBe(seqs[2])
      // Reading commits nothing: only a PUT moves an offset.
      expect((yield* call("GET", "/v1/consumers/precedence")).body.seq).toBe(seqs[4])
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
      const herald = yield* Herald
      const newest = yield* herald.latestSeq
      // The clients' offsets: the runtime's own (the supervisor saves its own once a second) move by themselves.
      const offsets = Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.orDie(sql`SELECT consumer, seq FROM consumer_offsets WHERE consumer <> 'supervisor' AND consumer NOT LIKE 'herald%' ORDER BY consumer`))
      const before = yield* offsets
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
      expect(yield* offsets).toEqual(before)
      // The reserved names' PUTs of seq 0 stored nothing either.
      const own = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.orDie(sql<{ consumer: string; seq: number }>`SELECT consumer, seq FROM consumer_offsets WHERE consumer = 'supervisor' OR consumer LIKE 'herald.internal'`))
      expect(own.filter((r) => r.consumer !== "supervisor" || Number(r.seq) === 0)).toEqual([])
    }))

  it.effect("GET /v1/consumers lists each consumer with its offset and lag; GET one, DELETE one (then 404)", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const start = yield* herald.latestSeq
      yield* enqueue(4)
      const newest = yield* herald.latestSeq
      const seqs = yield* storedSeqs(start, newest)
      const twoBehind = seqs[seqs.length - 3]!
      yield* call("PUT", "/v1/consumers/list-b", { body: { seq: newest } })
      yield* call("PUT", "/v1/consumers/list-a", { body: { seq: twoBehind } })
      const list = yield* call("GET", "/v1/consumers")
      expect(list.status).toBe(200)
      const mine = (list.body.items as Array<{ name: string }>).filter((c) => c.name.startsWith("list-"))
      expect(mine).toMatchObject([{ name: "list-a", seq: twoBehind, lag: 2 }, { name: "list-b", seq: newest, lag: 0 }])
      expect((list.body.items as Array<{ name: string }>).some((c) => c.name === "supervisor")).toBe(false)
      expect((yield* call("GET", "/v1/consumers/list-a")).body).toMatchObject({ name: "list-a", seq: twoBehind, lag: 2 })
      expect((yield* call("DELETE", "/v1/consumers/list-a")).status).toBe(204)
      const gone = yield* call("GET", "/v1/consumers/list-a")
      expect(gone.status).toBe(404)
      expect(gone.body.code).toBe("ConsumerNotFound")
      expect((yield* call("DELETE", "/v1/consumers/list-a")).status).toBe(404)
    }))

  it.effect("an offset committed over HTTP survives a restart of the daemon on the same file", () =>
    Effect.gen(function* () {
      const db = yield* tempDatabase
      const { committed, end, rest } = yield* Effect.gen(function* () {
        yield* useDesktopSink
        const herald = yield* Herald
        const start = yield* herald.latestSeq
        yield* enqueue(6)
        const end = yield* herald.latestSeq
        const seqs = yield* storedSeqs(start, end)
        expect((yield* call("PUT", "/v1/consumers/restart", { body: { seq: seqs[3] } })).status).toBe(200)
        return { committed: seqs[3]!, end, rest: seqs.slice(4) }
      }).pipe(Effect.provide(testServer({}, {}, db)))
      yield* Effect.gen(function* () {
        expect((yield* call("GET", "/v1/consumers/restart")).body).toMatchObject({ name: "restart", seq: committed })
        expect(yield* readUntil("/v1/events?consumer=restart", end)).toEqual(rest)
      }).pipe(Effect.provide(testServer({}, {}, db)))
    }).pipe(Effect.scoped))
})
