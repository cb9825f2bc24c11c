import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as net from "node:net"
import { Herald } from "../../src/layers/Herald.js"
import { call, eventually, openSse, storedSeqs, TestServer, testServer, token, useDesktopSink } from "./support.js"

const enqueue = (n: number, kind: string, title = "t") =>
  Effect.flatMap(Herald, (h) => h.enqueueMany(Array.from({ length: n }, (_, i) => ({ kind, title: `${title}${i}` }))))

const counter = (text: string, name: string) => {
  const line = text.split("\n").find((l) => l.startsWith(name))
  return line === undefined ? 0 : Number(line.split(" ").pop())
}

layer(testServer(), { excludeTestServices: true })("HTTP change feed (SSE)", (it) => {
  it.effect("the stream opens with retry:, carries seq ids, and sends heartbeats", () =>
    Effect.gen(function* () {
      yield* useDesktopSink
      const sse = yield* openSse("/v1/events")
      expect(sse.status).toBe(200)
      expect(sse.contentType).toContain("text/event-stream")
      yield* enqueue(1, "hello")
      yield* eventually(Effect.sync(() => sse.frames), (f) => f.some((x) => x.event === "change") && f.some((x) => x.comment === "heartbeat"))
      expect(sse.frames[0]!.retry).toBe("2000")
      const change = sse.frames.find((f) => f.event === "change")!
      expect(Number(change.id)).toBe(JSON.parse(change.data!).seq)
      yield* sse.close
    }))

  it.effect("a client resumes after a disconnect from Last-Event-ID with no gap and no duplicate", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const start = yield* herald.latestSeq
      const first = yield* openSse(`/v1/events?after=${start}`)
      yield* enqueue(40, "resume")
      yield* eventually(Effect.sync(() => first.changes().length), (n) => n >= 20)
      yield* first.close
      const seen = first.changes().map((e) => e.seq)
      // Changes keep coming while it is away.
      yield* enqueue(40, "resume")
      const second = yield* openSse("/v1/events?after=0", { "last-event-id": String(seen[seen.length - 1]) })
      const end = yield* herald.latestSeq
      yield* eventually(Effect.sync(() => second.changes()), (c) => c.length > 0 && c[c.length - 1]!.seq >= end)
      yield* second.close
      const all = [...seen, ...second.changes().map((e) => e.seq)].filter((s) => s <= end)
      expect(all).toEqual(yield* storedSeqs(start, end))
    }))

  it.effect("?entity= keeps only the named entities", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const sse = yield* openSse(`/v1/events?after=${yield* herald.latestSeq}&entity=notification`)
      yield* enqueue(5, "filtered")
      yield* eventually(Effect.sync(() => sse.changes().length), (n) => n >= 5)
      yield* sse.close
      expect(new Set(sse.changes().map((e) => e.entity))).toEqual(new Set(["notification"]))
    }))

  it.effect("?entity= with an unknown entity, an empty item or a bad cursor is a 400 that names the parameter", () =>
    Effect.gen(function* () {
      for (const query of ["entity=notifications", "entity=notification,,delivery", "entity=", "after=abc", "after=-1"]) {
        const r = yield* call("GET", `/v1/events?${query}`)
        expect(r.status, query).toBe(400)
        expect(r.body.code).toBe("InvalidInput")
        expect(r.body.detail).toContain(query.split("=")[0])
      }
      // Spaces around names are allowed; the stream opens.
      const sse = yield* openSse("/v1/events?entity=notification,%20delivery")
      expect(sse.status).toBe(200)
      yield* sse.close
    }))

  it.effect("a client that stops reading is disconnected, and does not slow a client that reads", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const { url } = yield* TestServer
      const start = yield* herald.latestSeq
      const fast = yield* openSse(`/v1/events?after=${start}`)
      // A raw socket that sends the request and never reads: its buffers fill up.
      const port = Number(new URL(url).port)
      const slow = net.connect({ port, host: "127.0.0.1" })
      slow.on("error", () => {})
      slow.write(`GET /v1/events?after=${start} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`)
      slow.pause()
      let batches = 0
      const dropped = () => Effect.map(call("GET", "/metrics"), (r) => counter(r.body, 'herald_sse_disconnects_total{reason="slow_client"}'))
      while ((yield* dropped()) === 0) {
        if (batches++ >= 60) throw new Error("the slow client was never disconnected")
        yield* enqueue(500, "flood", "x".repeat(900))
        // The fast client keeps up with each batch while the slow one is stuck.
        const end = yield* herald.latestSeq
        yield* eventually(Effect.sync(() => fast.changes()), (c) => c.length > 0 && c[c.length - 1]!.seq >= end, "10 seconds")
      }
      const seqs = fast.changes().map((e) => e.seq)
      expect(new Set(seqs).size).toBe(seqs.length)
      expect(seqs).toEqual(yield* storedSeqs(start, seqs[seqs.length - 1]!))
      yield* fast.close
      slow.destroy()
    }), { timeout: 120_000 })

  it.effect("a bad cursor answers 400 with the path", () =>
    Effect.gen(function* () {
      const reply = yield* call("GET", "/v1/events?after=-3")
      expect(reply.status).toBe(400)
      expect(reply.body.path).toBe("after")
    }))
})
