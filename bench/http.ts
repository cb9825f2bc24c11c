/**
 * The HTTP figure: sustained POST /v1/notifications on loopback for ~10 s. The daemon layer
 * runs in this process on a temp database (deliveries go to a memory sink, so the dispatcher
 * works as in production); autocannon fires from a worker thread so it has its own event loop.
 */
import { HttpServer } from "@effect/platform"
import { Effect, ManagedRuntime, Option, Redacted } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { Herald } from "../src/layers/Herald.js"
import { daemonLayer, HttpOptions } from "../src/layers/Http.js"
import { MemorySink } from "../src/sinks/memory.js"
import { startNoopServer } from "./httpBaseline.js"

export interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number }
  readonly latency: { readonly p50: number; readonly p99: number; readonly average: number }
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon

export interface HttpBenchOptions {
  readonly durationSeconds?: number
  readonly connections?: number
}

const body = JSON.stringify({ kind: "bench", title: "Build finished", priority: "normal", payload: { build: 42 } })

const load = (url: string, connections: number, durationSeconds: number, token: string) =>
  autocannon({
    url: `${url}/v1/notifications`,
    method: "POST",
    connections,
    duration: durationSeconds,
    workers: 1,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body
  })

const describe = (r: AutocannonResult, connections: number, durationSeconds: number) =>
  `${Math.round(r.requests.average).toLocaleString("en-US")} requests/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms` +
  ` (${connections} connections, ${durationSeconds} s, ${r.requests.total.toLocaleString("en-US")} requests, ` +
  `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts)`

export async function runHttpBench(options: HttpBenchOptions = {}): Promise<{ rps: number; p99Ms: number; lines: string[] }> {
  const durationSeconds = options.durationSeconds ?? 10
  const connections = options.connections ?? 50
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-http-bench-"))
  const token = "bench-token-0123456789abcdef"
  const noop = await startNoopServer()
  let baseline: AutocannonResult
  try {
    baseline = await load(noop.url, connections, Math.max(3, Math.round(durationSeconds / 2)), token)
  } finally {
    await noop.stop()
  }
  const runtime = ManagedRuntime.make(
    daemonLayer({ database: path.join(dir, "herald.db") }, HttpOptions.layer({ port: 0, token: Option.some(Redacted.make(token)) }))
  )
  try {
    const url = await runtime.runPromise(Effect.gen(function* () {
      const herald = yield* Herald
      const mem = yield* MemorySink
      yield* mem.keepReceived(false)
      yield* herald.putSettings({ sinks: { mem: { type: "memory" } }, routes: [{ sink: "mem" }] })
      const address = (yield* HttpServer.HttpServer).address
      return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
    }))
    const result = await load(url, connections, durationSeconds, token)
    const rps = result.requests.average
    const p99Ms = result.latency.p99
    const lines = [
      "HTTP POST /v1/notifications (aim: >= 5,000 requests/s with p99 < 20 ms):",
      `  herald: ${describe(result, connections, durationSeconds)}`,
      `  no-op HttpApi endpoint, same schema and load: ${describe(baseline, connections, Math.max(3, Math.round(durationSeconds / 2)))}`,
      `  ratio herald/no-op: ${(rps / baseline.requests.average).toFixed(2)}`
    ]
    return { rps, p99Ms, lines }
  } finally {
    await runtime.dispose()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// `node dist-bench/bench/http.js` runs it alone.
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  runHttpBench().then((r) => console.log(r.lines.join("\n")), (e) => {
    console.error(e)
    process.exitCode = 1
  })
}
