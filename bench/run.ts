/**
 * `npm run bench`: Herald end to end (enqueue -> sent) against a raw better-sqlite3 baseline
 * doing the same row writes in the same run, Herald on PostgreSQL with 1, 2 and 4 processes
 * against graphile-worker on the same server (bench/pg.ts), the peak RSS while 200,000
 * deliveries wait, and (when present) the HTTP and SSE figures. Figures are printed as ratios
 * plus absolute rates.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Herald } from "../src/layers/Herald.js"
import { MemorySink } from "../src/sinks/memory.js"
import { rawDeliveriesPerSecond } from "./baseline.js"
import { peerJobsPerSecond } from "./peer.js"
import { runPgBench } from "./pg.js"
import { runRetryScheduleBench } from "./retrySchedule.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-bench-"))
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
const progress = (s: string) => process.stderr.write(`  .. ${s}\n`)

/**
 * Enqueue -> sent for `n` notifications to one memory sink. `bulk`: enqueueMany, 500 per call
 * (the raw baseline's transaction size). `calls`: one enqueue per notification from 1,000
 * concurrent callers, which the writer groups into transactions itself (group commit).
 */
const endToEnd = (n: number, mode: "bulk" | "calls") =>
  Effect.gen(function* () {
    const herald = yield* Herald
    const mem = yield* MemorySink
    yield* mem.keepReceived(false)
    let done = 0
    yield* mem.setHandler(() => Effect.sync(() => (done++, {})))
    yield* herald.putSettings({ sinks: { mem: { type: "memory" } }, routes: [{ sink: "mem" }] })
    const items = Array.from({ length: n }, (_, i) => ({ kind: "bench", title: `n${i}` }))
    const started = performance.now()
    if (mode === "bulk") {
      for (let i = 0; i < n; i += 500) yield* herald.enqueueMany(items.slice(i, i + 500))
    } else {
      yield* Effect.forEach(items, (x) => herald.enqueue(x), { concurrency: 1_000, discard: true })
    }
    const enqueued = performance.now()
    while (done < n) yield* Effect.sleep("2 millis")
    const finished = performance.now()
    return { perSecond: n / ((finished - started) / 1000), enqueuePerSecond: n / ((enqueued - started) / 1000) }
  })

const waitingRss = (n: number) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    yield* herald.putSettings({ sinks: { desk: { type: "desktop" } }, routes: [{ sink: "desk" }] })
    let peak = process.memoryUsage().rss
    const chunk = 5_000
    for (let i = 0; i < n; i += chunk) {
      yield* herald.enqueueMany(Array.from({ length: chunk }, (_, j) => ({ kind: "bench", title: `w${i + j}` })))
      peak = Math.max(peak, process.memoryUsage().rss)
      if ((i / chunk) % 10 === 0) progress(`${fmt(i + chunk)} of ${fmt(n)} waiting deliveries enqueued`)
    }
    const stats = yield* herald.stats()
    peak = Math.max(peak, process.memoryUsage().rss)
    return { peakMb: peak / 1024 / 1024, waiting: stats.byStatus["pending"] ?? 0 }
  })

const run = <A, E>(file: string, effect: Effect.Effect<A, E, Herald | MemorySink>) =>
  Effect.runPromise(Effect.scoped(Effect.provide(effect, Layer.fresh(Herald.layer({ database: path.join(dir, file) })))))

const main = async () => {
  const n = 20_000
  console.log(`Herald benchmark (node ${process.version}, ${os.cpus().length} cores)`)
  progress("raw better-sqlite3 baselines")
  const raw = rawDeliveriesPerSecond(path.join(dir, "raw.db"), n, "claim")
  const rawHandoff = rawDeliveriesPerSecond(path.join(dir, "raw-handoff.db"), n, "handoff")
  progress("peer: plainjob")
  const peer = await peerJobsPerSecond(path.join(dir, "peer.db"), n)
  progress("Herald end to end, bulk enqueue")
  const bulk = await run("bulk.db", endToEnd(n, "bulk"))
  progress("Herald end to end, one enqueue call per notification")
  const calls = await run("calls.db", endToEnd(n, "calls"))
  const ratio = (a: number, b: number) => (a / b).toFixed(2)
  console.log(`end to end, ${fmt(n)} notifications to one memory sink (enqueue -> sent; floor 20,000/s, aim 32,000/s):`)
  console.log(`  herald, enqueueMany 500 per call: ${fmt(bulk.perSecond)} deliveries/s (enqueue alone ${fmt(bulk.enqueuePerSecond)}/s)`)
  console.log(`  herald, one enqueue per notification, 1,000 callers: ${fmt(calls.perSecond)} deliveries/s (enqueue alone ${fmt(calls.enqueuePerSecond)}/s)`)
  console.log(`  raw better-sqlite3, same row writes and statements (claim path), 480 per transaction: ${fmt(raw)} deliveries/s`)
  console.log(`  raw better-sqlite3, fewest row writes (hand-off path), 480 per transaction: ${fmt(rawHandoff)} deliveries/s`)
  console.log(`  peer: plainjob (SQLite job queue, one row per job), ${peer.processes} worker processes: ${fmt(peer.perSecond)} jobs/s`)
  console.log(`  ratio herald/raw: enqueueMany ${ratio(bulk.perSecond, raw)}, one call each ${ratio(calls.perSecond, raw)}; ` +
    `one call each/raw hand-off ${ratio(calls.perSecond, rawHandoff)}`)
  console.log(`  ratio herald/peer: enqueueMany ${ratio(bulk.perSecond, peer.perSecond)}, one call each ${ratio(calls.perSecond, peer.perSecond)}`)
  for (const line of (await runPgBench({ n: 50_000, sqlitePerSecond: bulk.perSecond })).lines) console.log(line)
  progress("200,000 waiting deliveries")
  if (typeof globalThis.gc === "function") globalThis.gc()
  const rss = await run("rss.db", waitingRss(200_000))
  console.log(`peak RSS while ${fmt(rss.waiting)} deliveries wait: ${rss.peakMb.toFixed(0)} MB`)
  progress("retry delays")
  for (const line of runRetryScheduleBench().lines) console.log(line)
  const httpBench = path.join(path.dirname(new URL(import.meta.url).pathname), "http.js")
  if (fs.existsSync(httpBench)) {
    progress("HTTP: one POST per notification, then batches of 100")
    const { runHttpBench } = (await import(httpBench)) as { runHttpBench: () => Promise<{ lines: Array<string> }> }
    for (const line of (await runHttpBench()).lines) console.log(line)
  }
  const sseBench = path.join(path.dirname(new URL(import.meta.url).pathname), "sse.js")
  if (fs.existsSync(sseBench)) {
    progress("SSE: 50 streams that never read, then 50 that read")
    const { runSseBench } = (await import(sseBench)) as { runSseBench: () => Promise<{ lines: Array<string> }> }
    for (const line of (await runSseBench()).lines) console.log(line)
  }
  const lockBench = path.join(path.dirname(new URL(import.meta.url).pathname), "outsideLock.js")
  if (fs.existsSync(lockBench)) {
    progress("/healthz while an outside process holds the write lock (15 s)")
    const { runOutsideLockBench } = (await import(lockBench)) as { runOutsideLockBench: () => Promise<{ lines: Array<string> }> }
    for (const line of (await runOutsideLockBench()).lines) console.log(line)
  }
  fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
