/** A sink's `concurrency`: never more calls to it under way at once, counted by a real HTTP receiver. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Herald } from "../../src/layers/Herald.js"
import { withHerald } from "../support/herald.js"
import { holdsFor, whenIo } from "../support/receiver.js"

/** A receiver that holds every request until the test answers it, and counts overlapping ones. */
const holdingReceiver = Effect.acquireRelease(
  Effect.async<{ server: http.Server; held: Array<http.ServerResponse>; stats: { open: number; max: number; total: number } }>((resume) => {
    const held: Array<http.ServerResponse> = []
    const stats = { open: 0, max: 0, total: 0 }
    const server = http.createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        stats.open++
        stats.total++
        stats.max = Math.max(stats.max, stats.open)
        held.push(res)
        res.on("finish", () => { stats.open-- })
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, held, stats })))
  }),
  ({ server }) => Effect.async<void>((resume) => {
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })
)

describe("sink concurrency", () => {
  it.scoped("a webhook sink with concurrency 2 never has more than 2 calls under way, and every delivery goes out", () =>
    Effect.gen(function* () {
      const hook = yield* holdingReceiver
      const url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/in`
      yield* withHerald((herald: Herald["Type"]) => Effect.gen(function* () {
        const n = 9
        yield* herald.enqueueMany(Array.from({ length: n }, (_, i) => ({ kind: "k", title: `n${i}` })))
        let answered = 0
        // Whatever happens, no request is left held when the runtime stops.
        yield* Effect.addFinalizer(() => Effect.sync(() => { for (const res of hook.held.splice(0)) res.writeHead(204).end() }))
        while (answered < n) {
          const expected = Math.min(2, n - answered)
          yield* whenIo(Effect.sync(() => hook.held.length), (h) => h >= expected, `${expected} calls under way`)
          // No third call starts while two are held, however long they take.
          yield* holdsFor(() => hook.stats.open <= 2, "more than 2 calls at once", 150)
          for (const res of hook.held.splice(0)) res.writeHead(204).end()
          answered += expected
        }
        const stats = yield* whenIo(herald.stats(), (s) => s.byStatus["sent"] === n, "all sent")
        expect(stats.byStatus).toEqual({ sent: n })
        expect(hook.stats).toMatchObject({ max: 2, total: n })
      }), {}, {
        sinks: { hook: { type: "webhook", url, allowPrivateNetwork: true, concurrency: 2 } },
        routes: [{ sink: "hook", minPriority: "low" }]
      })
    }), 30_000)

  it.scoped("a concurrency that is not a positive whole number is refused at its path", () =>
    withHerald((herald) => Effect.gen(function* () {
      for (const concurrency of [0, -1, 1.5, "2"]) {
        const refused = yield* Effect.flip(herald.putSettings({ sinks: { mem: { type: "memory", concurrency } } }))
        expect(refused).toMatchObject({ _tag: "InvalidInput", issues: [{ path: "sinks.mem.concurrency" }] })
      }
    }), { background: false }))
})
