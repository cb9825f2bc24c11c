/**
 * The change-feed figure: sustained POST /v1/notifications (autocannon) while 50 SSE clients
 * are connected, against the same load with none, in the same run: 50 clients that never
 * read, then 50 that read everything. Load and clients run in a child process
 * (bench/sseClients.ts); each case runs a fresh daemon in a fresh process on a fresh database
 * with the production HTTP options, so its CPU time per enqueue and peak RSS are its own.
 * Clients that never read cost like readers at first: Linux lets a socket's kernel buffers
 * grow to tens of MB before the daemon's writes stall.
 */
import { fork } from "node:child_process"
import * as path from "node:path"
import { defaultHttpOptions } from "../src/http/HttpOptions.js"
import { startBenchDaemon } from "./daemon.js"
import type { AutocannonResult } from "./http.js"

type Clients = "none" | "stalled" | "reading"

export interface SseBenchOptions {
  readonly durationSeconds?: number
  readonly connections?: number
  readonly streams?: number
  readonly rounds?: number
}

interface Case {
  readonly clients: Clients
  readonly result: AutocannonResult
  /** The daemon process's peak RSS during the load. */
  readonly peakRssMb: number
  /** The daemon's CPU time per enqueue: what the streams cost it, whatever else the machine runs. */
  readonly cpuUsPerEnqueue: number
  /** Streams the daemon ended during the load, and frames a reading client got on average. */
  readonly ended: number
  readonly framesPerClient: number
}

interface Reply {
  readonly result: AutocannonResult
  readonly frames: number
  readonly ended: number
}

const token = "bench-token-0123456789abcdef"
const mb = (bytes: number) => bytes / 1024 / 1024

/** The client process: its streams are open when this resolves; `load` runs the enqueue load there. */
const forkClients = (url: string, streams: number, mode: Clients) =>
  new Promise<{ load: (connections: number, durationSeconds: number) => Promise<Reply>; stop: () => Promise<void> }>((resolve, reject) => {
    const child = fork(new URL("./sseClients.js", import.meta.url), [url, token, String(streams), mode])
    child.once("error", reject)
    child.once("message", () =>
      resolve({
        load: (connections, durationSeconds) =>
          new Promise((answer) => {
            child.once("message", (m: Reply) => answer(m))
            child.send({ type: "load", connections, durationSeconds })
          }),
        stop: () => new Promise((exit) => (child.once("exit", () => exit()), child.send({ type: "stop" })))
      }))
  })

const runCase = async (clients: Clients, options: Required<SseBenchOptions>): Promise<Case> => {
  const daemon = await startBenchDaemon(token, "herald-sse-bench-")
  try {
    const url = daemon.url
    const client = await forkClients(url, options.streams, clients)
    if (typeof globalThis.gc === "function") globalThis.gc()
    let peak = process.memoryUsage().rss
    const cpuBefore = process.cpuUsage()
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50)
    const { result, ...report } = await client.load(options.connections, options.durationSeconds)
    clearInterval(sampler)
    const cpu = process.cpuUsage(cpuBefore)
    await client.stop()
    return {
      clients,
      result,
      peakRssMb: mb(peak),
      cpuUsPerEnqueue: (cpu.user + cpu.system) / Math.max(1, result.requests.total),
      ended: report.ended,
      framesPerClient: clients === "reading" ? report.frames / options.streams : 0
    }
  } finally {
    await daemon.stop()
  }
}

/** Runs one case in a fresh process (this file with `--case`), so its RSS is its own and not what earlier cases left. */
const runCaseInProcess = (clients: Clients, options: Required<SseBenchOptions>) =>
  new Promise<Case>((resolve, reject) => {
    const child = fork(new URL(import.meta.url), ["--case", clients, JSON.stringify(options)], { execArgv: ["--expose-gc"] })
    child.once("message", (c: Case) => resolve(c))
    child.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`the ${clients} case exited with ${code}`))))
  })

export async function runSseBench(options: SseBenchOptions = {}): Promise<{ lines: Array<string> }> {
  const all = { durationSeconds: 10, connections: 10, streams: 50, rounds: 2, ...options }
  // Two rounds, interleaved, and the better run of each case: on a shared machine one run says
  // as much about the neighbours as about Herald.
  const runs: Record<Clients, Array<Case>> = { none: [], stalled: [], reading: [] }
  for (let round = 0; round < all.rounds; round++) {
    for (const clients of ["none", "stalled", "reading"] as const) runs[clients].push(await runCaseInProcess(clients, all))
  }
  const best = (clients: Clients) => runs[clients].reduce((a, b) => (b.result.requests.average > a.result.requests.average ? b : a))
  const [none, stalled, reading] = [best("none"), best("stalled"), best("reading")]
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
  const line = (label: string, c: Case) =>
    `  ${label}: ${fmt(c.result.requests.average)} enqueues/s (${(c.result.requests.average / none.result.requests.average).toFixed(2)} of none), ` +
    `p50 ${c.result.latency.p50} ms, p99 ${c.result.latency.p99} ms, ${fmt(c.cpuUsPerEnqueue)} µs CPU per enqueue` +
    (c === none ? "" : ` (${(c.cpuUsPerEnqueue / none.cpuUsPerEnqueue).toFixed(2)} of none)`) + `, peak RSS ${c.peakRssMb.toFixed(0)} MB` +
    (c === none ? "" : ` (${c.peakRssMb - none.peakRssMb >= 0 ? "+" : ""}${(c.peakRssMb - none.peakRssMb).toFixed(0)} MB)`) +
    (c.clients === "stalled" ? `, ${c.ended} of ${all.streams} ended by the daemon during the load (after ${defaultHttpOptions.sseStallMs / 1_000} s without reading)` : "") +
    (c.clients === "reading" ? `, ${fmt(c.framesPerClient)} frames read per client` : "") +
    (c.result.non2xx + c.result.errors > 0 ? ` (${c.result.non2xx} non-2xx, ${c.result.errors} errors)` : "")
  return {
    lines: [
      `SSE: POST /v1/notifications while ${all.streams} /v1/events streams are open (${all.connections} connections, ${all.durationSeconds} s, ` +
        `best of ${all.rounds} interleaved runs each; aim: >= 0.75 of none and < +128 MB):`,
      line("no streams", none),
      line(`${all.streams} streams that never read`, stalled),
      line(`${all.streams} streams that read`, reading)
    ]
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href
if (isMain && process.argv[2] === "--case") {
  runCase(process.argv[3] as Clients, JSON.parse(process.argv[4]!) as Required<SseBenchOptions>).then((c) => {
    if (process.send === undefined) console.log(JSON.stringify({ ...c, result: c.result.requests.average }))
    else process.send(c)
    process.exit(0)
  }, (e) => {
    console.error(e)
    process.exit(1)
  })
} else if (isMain) {
  // `node dist-bench/bench/sse.js` runs it alone.
  runSseBench().then((r) => console.log(r.lines.join("\n")), (e) => {
    console.error(e)
    process.exitCode = 1
  })
}
