/**
 * `npm run bench`: Herald end to end (enqueue -> sent) against a raw better-sqlite3 baseline
 * doing the same row writes in the same run, the peak RSS while 200,000 deliveries wait, and
 * (when present) the HTTP figure. Figures are printed as ratios plus absolute rates.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Herald } from "../src/layers/Herald.js"
import { MemorySink } from "../src/sinks/memory.js"
import { rawDeliveriesPerSecond } from "./baseline.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-bench-"))
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
const progress = (s: string) => process.stderr.write(`  .. ${s}\n`)

const endToEnd = (n: number) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    const mem = yield* MemorySink
    yield* mem.keepReceived(false)
    let done = 0
    yield* mem.setHandler(() => Effect.sync(() => (done++, {})))
    yield* herald.putSettings({ sinks: { mem: { type: "memory" } }, routes: [{ sink: "mem" }] })
    const started = performance.now()
    // Callers enqueue one notification each, 1,000 at a time: the writer groups them (group commit).
    yield* Effect.forEach(Array.from({ length: n }, (_, i) => ({ kind: "bench", title: `n${i}` })), (x) => herald.enqueue(x), {
      concurrency: 1_000,
      discard: true
    })
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
  progress("raw better-sqlite3 baseline")
  const raw = rawDeliveriesPerSecond(path.join(dir, "raw.db"), n)
  progress("Herald end to end")
  const herald = await run("e2e.db", endToEnd(n))
  console.log(`end to end, ${fmt(n)} notifications to one memory sink (enqueue -> sent):`)
  console.log(`  herald: ${fmt(herald.perSecond)} deliveries/s (enqueue alone ${fmt(herald.enqueuePerSecond)}/s)`)
  console.log(`  raw better-sqlite3, same row writes: ${fmt(raw)} deliveries/s`)
  console.log(`  ratio herald/raw: ${(herald.perSecond / raw).toFixed(2)}`)
  progress("200,000 waiting deliveries")
  if (typeof globalThis.gc === "function") globalThis.gc()
  const rss = await run("rss.db", waitingRss(200_000))
  console.log(`peak RSS while ${fmt(rss.waiting)} deliveries wait: ${rss.peakMb.toFixed(0)} MB`)
  const httpBench = path.join(path.dirname(new URL(import.meta.url).pathname), "http.js")
  if (fs.existsSync(httpBench)) {
    progress("HTTP")
    const { runHttpBench } = (await import(httpBench)) as { runHttpBench: () => Promise<{ lines: Array<string> }> }
    for (const line of (await runHttpBench()).lines) console.log(line)
  }
  fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
