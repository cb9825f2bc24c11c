/**
 * Shared pieces of the HTTP tests: a real daemon (Herald runtime + HTTP on 127.0.0.1, port 0)
 * on a fresh database of the project's engine (test/support/herald.ts's tempDatabase), a small fetch client, an SSE reader, and bounded polling.
 */
import { Sessions } from "../../src/services/Sessions.js"
import { HttpServer } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Context, Duration, Effect, Layer, Option, Redacted, Schedule } from "effect"
import type { HttpOptionsShape } from "../../src/http/HttpOptions.js"
import * as http from "node:http"
import { Herald, type HeraldConfig } from "../../src/layers/Herald.js"
import { daemonLayer, HttpOptions } from "../../src/layers/Http.js"
import { caughtUpFeed, tempDatabase } from "../support/herald.js"

export const token = "test-token-0123456789abcdef"

export interface TestServerShape {
  readonly url: string
  readonly database: string
}
export class TestServer extends Context.Tag("test/http/TestServer")<TestServer, TestServerShape>() {}

/**
 * The daemon on a fresh database, or on `database` to start it again (and its writer's SqlClient);
 * HTTP options default to fast SSE timers for tests, `runtime` tunes the Herald runtime under it.
 */
export const testServer = (
  options: Partial<HttpOptionsShape> = {},
  runtime: HeraldConfig["runtime"] = {},
  database?: string
): Layer.Layer<TestServer | Herald | Sessions | SqlClient.SqlClient> =>
  Layer.unwrapScoped(Effect.gen(function* () {
    const db = database ?? (yield* tempDatabase)
    const daemon = daemonLayer(
      { database: db, runtime },
      HttpOptions.layer({ port: 0, token: Option.some(Redacted.make(token)), sseHeartbeatMs: 200, sseStallMs: 1_000, shutdownGraceMs: 2_000, ...options })
    )
    const server = Layer.effect(TestServer, Effect.gen(function* () {
      const address = (yield* HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") return yield* Effect.die("expected a TCP address")
      return { url: `http://127.0.0.1:${address.port}`, database: db }
    }))
    return server.pipe(Layer.provideMerge(caughtUpFeed(daemon)))
  })).pipe(Layer.provide(NodeContext.layer), Layer.orDie)

/**
 * The stored changes' sequence numbers in (`after`, `upTo`], in order: what a feed client must
 * see (PostgreSQL's numbers are not dense, so tests compare with these instead of a range).
 */
export const storedSeqs = (after: number, upTo: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(Effect.orDie(sql<{ seq: number }>`SELECT seq FROM change_log WHERE seq > ${after} AND seq <= ${upTo} ORDER BY seq`), (rows) => rows.map((r) => r.seq)))

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: any
}

/** One request; JSON in, JSON (or text) out. `auth: false` sends no token. */
export const call = (
  method: string,
  path: string,
  options: { readonly body?: unknown; readonly raw?: string; readonly headers?: Record<string, string>; readonly auth?: boolean | string } = {}
): Effect.Effect<Reply, never, TestServer> =>
  Effect.gen(function* () {
    const { url } = yield* TestServer
    const headers: Record<string, string> = { ...options.headers }
    if (options.auth !== false) headers["authorization"] = `Bearer ${typeof options.auth === "string" ? options.auth : token}`
    let body: string | undefined
    if (options.raw !== undefined) body = options.raw
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body)
      headers["content-type"] ??= "application/json"
    }
    const response = yield* Effect.promise(() => fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) }))
    const text = yield* Effect.promise(() => response.text())
    const isJson = (response.headers.get("content-type") ?? "").includes("json")
    return { status: response.status, headers: response.headers, body: isJson && text !== "" ? JSON.parse(text) : text } satisfies Reply
  })

/** Polls `effect` until `done` holds, at most `within` (then fails with the last value). */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean, within: Duration.DurationInput = "10 seconds") =>
  Effect.gen(function* () {
    let last: A | undefined
    yield* effect.pipe(
      Effect.tap((a) => { last = a }),
      Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: done }),
      Effect.timeoutFail({ duration: within, onTimeout: () => new Error(`condition not met within ${Duration.format(within)}; last value: ${JSON.stringify(last)}`) })
    )
    return last as A
  })

export interface SseFrame {
  readonly id?: string
  readonly event?: string
  readonly data?: string
  readonly comment?: string
  readonly retry?: string
}

/** Splits SSE text into frames; returns them and the unfinished rest. */
const parseFrames = (text: string): { frames: Array<SseFrame>; rest: string } => {
  const frames: Array<SseFrame> = []
  let i: number
  while ((i = text.indexOf("\n\n")) >= 0) {
    const block = text.slice(0, i)
    text = text.slice(i + 2)
    const frame: Record<string, string> = {}
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) frame["comment"] = line.slice(1).trim()
      else {
        const at = line.indexOf(":")
        frame[line.slice(0, at)] = line.slice(at + 1).trimStart()
      }
    }
    frames.push(frame)
  }
  return { frames, rest: text }
}

/** An SSE client over fetch: frames as they arrive, and `close` to disconnect. */
export const openSse = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const { url } = yield* TestServer
    const controller = new AbortController()
    const response = yield* Effect.promise(() =>
      fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers }, signal: controller.signal }))
    const frames: Array<SseFrame> = []
    let ended = false
    let complete = false
    let buffer = ""
    const pump = (async () => {
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) {
            complete = true // the server ended the body; a cut connection throws instead
            break
          }
          const parsed = parseFrames(buffer + value)
          frames.push(...parsed.frames)
          buffer = parsed.rest
        }
      } catch {
        // aborted by close()
      } finally {
        ended = true
      }
    })()
    return {
      status: response.status,
      contentType: response.headers.get("content-type"),
      frames,
      /** The change events received so far (parsed data of `event: change`). */
      changes: () => frames.filter((f) => f.event === "change").map((f) => JSON.parse(f.data!) as { seq: number; entity: string; entityId: string; event: string }),
      ended: () => ended,
      /** Whether the stream ended as the server's body ended, not by a cut connection. */
      endedCleanly: () => complete,
      close: Effect.promise(async () => {
        controller.abort()
        await pump
      })
    }
  })

/** Routes everything to one pull sink `desk` (and nothing to stdout), so tests drive outcomes. */
export const useDesktopSink = Effect.gen(function* () {
  const herald = yield* Herald
  yield* herald.putSettings({ sinks: { desk: { type: "desktop" } }, routes: [{ sink: "desk", minPriority: "low" }] })
})

/** A POST whose body is sent in chunks (Transfer-Encoding: chunked, no Content-Length). */
export const postChunked = (path: string, chunks: ReadonlyArray<string>, contentType = "application/json") =>
  Effect.gen(function* () {
    const { url } = yield* TestServer
    return yield* Effect.async<{ status: number; body: string }, Error>((resume) => {
      const request = http.request(`${url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": contentType, "transfer-encoding": "chunked" }
      }, (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (d: string) => { body += d })
        response.on("end", () => resume(Effect.succeed({ status: response.statusCode ?? 0, body })))
      })
      // The server may answer and close before the whole body is sent.
      request.on("error", (e) => resume(Effect.fail(e)))
      for (const c of chunks) request.write(c)
      request.end()
    })
  })

/**
 * An SSE client over node:http that can stop reading: `pause()` stops taking bytes from the
 * socket (its kernel buffers fill, then the server's), `resume()` reads on. `endedCleanly`
 * says the server ended the body; a cut connection ends it without that.
 */
export const openPausableSse = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const { url } = yield* TestServer
    const frames: Array<SseFrame> = []
    let rest = ""
    let ended = false
    let complete = false
    const response = yield* Effect.async<http.IncomingMessage, Error>((resume) => {
      const request = http.get(`${url}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers }, agent: false }, (r) => resume(Effect.succeed(r)))
      request.on("error", (e) => resume(Effect.fail(e)))
    })
    response.setEncoding("utf8")
    response.on("data", (text: string) => {
      const parsed = parseFrames(rest + text)
      frames.push(...parsed.frames)
      rest = parsed.rest
    })
    response.on("end", () => {
      complete = true
      ended = true
    })
    response.on("close", () => (ended = true))
    response.on("error", () => {})
    return {
      status: response.statusCode,
      frames,
      changes: () => frames.filter((f) => f.event === "change").map((f) => JSON.parse(f.data!) as { seq: number }),
      pause: Effect.sync(() => response.pause()),
      resume: Effect.sync(() => response.resume()),
      ended: () => ended,
      endedCleanly: () => complete,
      close: Effect.sync(() => response.destroy())
    }
  })
