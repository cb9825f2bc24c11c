/**
 * A real HTTP receiver on 127.0.0.1 for the HTTP sinks' tests: it records every request and
 * answers as the test scripts it, or never ("hang") to test deadlines.
 */
import { Effect } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
  /** Sends the status and `body`, then never ends the answer. */
  readonly endless?: boolean
}

/** `answer` gets each request and its index (0 for the first); "hang" never answers. */
export const receiver = (answer: (request: Received, index: number) => Answer | "hang" = () => ({ status: 200, body: "ok" })) =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; received: Array<Received>; aborted: { count: number } }>((resume) => {
      const received: Array<Received> = []
      const aborted = { count: 0 }
      const server = http.createServer((req, res) => {
        let body = ""
        req.setEncoding("utf8")
        req.on("data", (c: string) => { body += c })
        req.on("end", () => {
          const r = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body }
          const a = answer(r, received.length)
          received.push(r)
          if (a === "hang") {
            res.on("close", () => { if (!res.writableEnded) aborted.count++ })
            return
          }
          res.writeHead(a.status, a.headers ?? {})
          if (a.endless === true) res.write(a.body ?? "")
          else res.end(a.body ?? "")
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, received, aborted })))
    }),
    ({ server }) => Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
  ).pipe(Effect.map(({ server, received, aborted }) => ({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    port: (server.address() as AddressInfo).port,
    received,
    aborted
  })))

/**
 * Polls `check` until `ok` holds while real I/O (a socket, a server) makes progress: it waits on
 * Node's timers, not on the TestClock, and fails after `withinMs` of real time.
 */
export const whenIo = <A, E, R>(check: Effect.Effect<A, E, R>, ok: (a: A) => boolean, what: string, withinMs = 10_000) =>
  Effect.gen(function* () {
    const until = Date.now() + withinMs
    let last: A | undefined
    while (Date.now() < until) {
      last = yield* check
      if (ok(last)) return last
      yield* Effect.promise(() => new Promise<void>((r) => setTimeout(r, 5)))
    }
    return yield* Effect.dieMessage(`never happened: ${what} (last: ${JSON.stringify(last)})`)
  })

/**
 * A webhook receiver the test steers: it answers `mode.status`, or while `mode.hold` keeps each
 * request open in `held` until the test answers it. `calls` are the notifications' titles.
 */
export const scriptedReceiver = Effect.acquireRelease(
  Effect.async<{ server: http.Server; mode: { status: number; hold: boolean }; calls: Array<string>; held: Array<http.ServerResponse> }>((resume) => {
    const mode = { status: 500, hold: false }
    const calls: Array<string> = []
    const held: Array<http.ServerResponse> = []
    const server = http.createServer((req, res) => {
      let body = ""
      req.setEncoding("utf8")
      req.on("data", (c: string) => { body += c })
      req.on("end", () => {
        calls.push((JSON.parse(body) as { data: { notification: { title: string } } }).data.notification.title)
        if (mode.hold) held.push(res)
        else res.writeHead(mode.status).end("answer")
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, mode, calls, held })))
  }),
  ({ server, held }) => Effect.async<void>((resume) => {
    for (const res of held.splice(0)) res.writeHead(204).end()
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })
).pipe(Effect.map((r) => ({ ...r, url: `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/in` })))

/** Real time, real I/O: for `ms`, `ok` keeps holding (for "nothing more happens" over sockets). */
export const holdsFor = (ok: () => boolean, what: string, ms: number) =>
  Effect.gen(function* () {
    const until = Date.now() + ms
    while (Date.now() < until) {
      if (!ok()) return yield* Effect.dieMessage(`broken: ${what}`)
      yield* Effect.promise(() => new Promise<void>((r) => setTimeout(r, 5)))
    }
  })
