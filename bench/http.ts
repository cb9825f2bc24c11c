/**
 * The HTTP figures: sustained POST /v1/notifications on loopback for ~10 s, then the same
 * notifications in batches of 100 through POST /v1/notifications/batch, each on a fresh daemon.
 * The daemon layer runs in this process on a temp database (deliveries go to a memory sink, so
 * the dispatcher works as in production); autocannon fires from a worker thread so it has its
 * own event loop.
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
  /** Connections posting batches: fewer, since each request carries `batchSize` notifications. */
  readonly batchConnections?: number
  readonly batchSize?: number
}

const notification = { kind: "bench", title: "Build finished", priority: "normal", payload: { build: 42 } }
const body = JSON.stringify(notification)

const load = (url: string, connections: number, durationSeconds: number, token: string, endpoint = "/v1/notifications", payload = body) =>
  autocannon({
    url: `${url}${endpoint}`,
    method: "POST",
    connections,
    duration: durationSeconds,
    workers: 1,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: payload
  })

const describe = (r: AutocannonResult, connections: number, durationSeconds: number) =>
  `${Math.round(r.requests.average).toLocaleString("en-US")} requests/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms` +
  ` (${connections} connections, ${durationSeconds} s, ${r.requests.total.toLocaleString("en-US")} requests, ` +
  `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts)`

/** One load on a fresh daemon (a fresh database, so neither figure pays for the other's rows). */
const onDaemon = async (token: string, run: (url: string) => Promise<AutocannonResult>) => {
  const daemon = await startBenchDaemon(token, "herald-http-bench-")
  try {
    return await run(daemon.url)
  } finally {
    await daemon.stop()
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

export async function runHttpBench(options: HttpBenchOptions = {}): Promise<{ rps: number; p99Ms: number; batchPerSecond: number; lines: string[] }> {
  const durationSeconds = options.durationSeconds ?? 10
  const connections = options.connections ?? 50
  const batchConnections = options.batchConnections ?? 10
  const batchSize = options.batchSize ?? 100
  const token = "bench-token-0123456789abcdef"
  const noop = await startNoopServer()
  let baseline: AutocannonResult
  try {
    baseline = await load(noop.url, connections, Math.max(3, Math.round(durationSeconds / 2)), token)
  } finally {
    await noop.stop()
  }
  const result = await onDaemon(token, (url) => load(url, connections, durationSeconds, token))
  const batchBody = JSON.stringify({ notifications: Array.from({ length: batchSize }, () => notification) })
  const batch = await onDaemon(token, (url) => load(url, batchConnections, durationSeconds, token, "/v1/notifications/batch", batchBody))
  const rps = result.requests.average
  const p99Ms = result.latency.p99
  // Only requests answered 2xx carried notifications that were enqueued.
  const batchPerSecond = batch.requests.average * batchSize * (1 - batch.non2xx / Math.max(1, batch.requests.total))
  const lines = [
    "HTTP POST /v1/notifications (aim: >= 5,000 requests/s with p99 < 20 ms):",
    `  herald: ${describe(result, connections, durationSeconds)}`,
    `  no-op HttpApi endpoint, same schema and load: ${describe(baseline, connections, Math.max(3, Math.round(durationSeconds / 2)))}`,
    `  ratio herald/no-op: ${(rps / baseline.requests.average).toFixed(2)}`,
    `HTTP POST /v1/notifications/batch, ${batchSize} notifications a request:`,
    `  herald: ${fmt(batchPerSecond)} notifications/s; ${describe(batch, batchConnections, durationSeconds)}`,
    `  ratio batch/single POST, notifications/s: ${(batchPerSecond / rps).toFixed(2)}`
  ]
  return { rps, p99Ms, batchPerSecond, lines }
}

// `node dist-bench/bench/http.js` runs it alone.
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  runHttpBench().then((r) => console.log(r.lines.join("\n")), (e) => {
    console.error(e)
    process.exitCode = 1
  })
}
