/**
 * The PostgreSQL figures of `npm run bench`: on one throwaway server (bench/pgServer.ts), Herald
 * with 1, 2 and 4 processes and graphile-worker with as many, each on a fresh database,
 * interleaved so drift in the machine's load hits both alike; deliveries (jobs) per second,
 * Herald's ratio to graphile-worker, and the cores each side and the server kept busy.
 */
import { createRequire } from "node:module"
import * as os from "node:os"
import { graphileJobsPerSecond } from "./graphileWorker.js"
import { heraldPgDeliveriesPerSecond, type PgFigure } from "./pgHerald.js"
import { startBenchPostgres } from "./pgServer.js"

const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
const progress = (s: string) => process.stderr.write(`  .. ${s}\n`)

const cores = (cpu: Record<string, number> | undefined) =>
  cpu === undefined
    ? ""
    : ` (cores busy: ${Object.entries(cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}; of ${os.cpus().length})`

const graphileVersion = (): string => {
  const require = createRequire(import.meta.url)
  return (require("graphile-worker/package.json") as { version: string }).version
}

export const runPgBench = async (options: { readonly n: number; readonly sqlitePerSecond: number }): Promise<{ lines: Array<string> }> => {
  const { n } = options
  progress("PostgreSQL: starting a throwaway server")
  const server = await startBenchPostgres()
  try {
    const version = await server.version()
    const herald: Record<number, PgFigure> = {}
    const graphile: Record<number, Pick<PgFigure, "perSecond" | "cpu">> = {}
    for (const k of [1, 2, 4]) {
      progress(`PostgreSQL: Herald, ${k} process${k === 1 ? "" : "es"}, ${fmt(n)} notifications`)
      herald[k] = await heraldPgDeliveriesPerSecond(server, k, n)
      progress(`PostgreSQL: graphile-worker, ${k} process${k === 1 ? "" : "es"}, ${fmt(n)} jobs`)
      graphile[k] = await graphileJobsPerSecond(server, k, n)
    }
    const lines = [
      `PostgreSQL ${version} (throwaway server on 127.0.0.1, fsync and synchronous_commit on), ${fmt(n)} notifications or jobs, enqueue -> done:`
    ]
    for (const k of [1, 2, 4]) {
      const h = herald[k]!
      const repeats = h.repeats === 0 ? "" : `, ${fmt(h.repeats)} sink calls repeated`
      const scanned = Math.round((100 * h.claimed) / n)
      const path = `leased by a claim scan ${scanned}%, at enqueue (direct hand-off) ${100 - scanned}%`
      lines.push(`  herald, ${k} process${k === 1 ? "" : "es"}, enqueueMany 500 per call: ${fmt(h.perSecond)} deliveries/s (${path}${repeats})${cores(h.cpu)}`)
    }
    for (const k of [1, 2, 4]) {
      lines.push(`  graphile-worker ${graphileVersion()}, ${k} process${k === 1 ? "" : "es"} of 24 concurrent no-op jobs (localQueue 500, ` +
        `completeJobBatchDelay 0), addJobs 500 per call: ${fmt(graphile[k]!.perSecond)} jobs/s${cores(graphile[k]!.cpu)}`)
    }
    const ratio = (a: number, b: number) => (a / b).toFixed(2)
    lines.push(`  ratio herald-pg/graphile-worker, same process count: ${[1, 2, 4].map((k) => `${k}: ${ratio(herald[k]!.perSecond, graphile[k]!.perSecond)}`).join(", ")}`)
    lines.push(`  ratio herald-pg/herald-sqlite (enqueueMany, one process): ${[1, 2, 4].map((k) => `${k}: ${ratio(herald[k]!.perSecond, options.sqlitePerSecond)}`).join(", ")}`)
    return { lines }
  } finally {
    server.stop()
  }
}
