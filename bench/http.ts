/**
 * The HTTP figure: sustained POST /v1/notifications on loopback for ~10 s. The daemon layer
 * runs in this process on a temp database (deliveries go to a memory sink, so the dispatcher
 * works as in production); autocannon fires from a worker thread so it has its own event loop.
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import { startBenchDaemon } from "./daemon.js"
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
  const token = "bench-token-0123456789abcdef"
  const noop = await startNoopServer()
  let baseline: AutocannonResult
  try {
    baseline = await load(noop.url, connections, Math.max(3, Math.round(durationSeconds / 2)), token)
  } finally {
    await noop.stop()
  }
  const daemon = await startBenchDaemon(token, "herald-http-bench-")
  try {
    const url = daemon.url
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
    await daemon.stop()
  }
}

// `node dist-bench/bench/http.js` runs it alone.
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  runHttpBench().then((r) => console.log(r.lines.join("\n")), (e) => {
    console.error(e)
    process.exitCode = 1
  })
}
