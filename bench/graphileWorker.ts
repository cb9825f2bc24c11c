/**
 * The PostgreSQL peer: graphile-worker on a fresh database of the same server, with 1, 2 or 4
 * worker processes (bench/graphileWorkerProcess.ts). This process adds the `n` no-op jobs,
 * 500 per addJobs call (Herald's enqueueMany size), and the figure runs from the first add to
 * an empty jobs table (graphile-worker deletes a job once it completes), asked once the
 * workers' reports of jobs done add up to `n`, as bench/pgHerald.ts does.
 */
import { fork } from "node:child_process"
import { Logger, makeWorkerUtils, runMigrations } from "graphile-worker"
import pg from "pg"
import { measureCpu } from "./cpu.js"
import type { PgFigure } from "./pgHerald.js"
import { waitUntil } from "./pgHerald.js"
import type { BenchPostgres } from "./pgServer.js"
import { progressOf } from "./workerProgress.js"

const quiet = new Logger(() => (level, message) => {
  if (level === "error") console.error(message)
})

export const graphileJobsPerSecond = async (server: BenchPostgres, processes: number, n: number): Promise<Pick<PgFigure, "perSecond" | "cpu">> => {
  const url = await server.freshDatabase("graphile")
  // Once here, so the workers do not race to install the schema.
  await runMigrations({ connectionString: url, logger: quiet })
  const workers = Array.from({ length: processes }, () => fork(new URL("./graphileWorkerProcess.js", import.meta.url), [url]))
  const jobsDone = progressOf(workers)
  await Promise.all(workers.map((w) => new Promise((ready, failed) => {
    w.once("message", ready)
    w.once("exit", (code) => failed(new Error(`graphile-worker process exited (${code}) before it was ready`)))
  })))
  const utils = await makeWorkerUtils({ connectionString: url, logger: quiet })
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const jobs = Array.from({ length: n }, (_, i) => ({ identifier: "bench", payload: { title: `n${i}` } }))
    const cpu = measureCpu(() => ({ pids: { "graphile-worker": workers.map((w) => w.pid!), "this process": [process.pid] }, parents: { postgres: server.pid } }))
    const started = performance.now()
    for (let i = 0; i < n; i += 500) await utils.addJobs(jobs.slice(i, i + 500))
    let left = n
    await waitUntil(async () => {
      if (jobsDone() < n) return false
      const { rows } = await client.query<{ n: number }>("SELECT count(*)::INT AS n FROM graphile_worker._private_jobs")
      left = rows[0]!.n
      return left === 0
    }, () => `${jobsDone()} of ${n} jobs done, ${left} left in the table`)
    const seconds = (performance.now() - started) / 1000
    return { perSecond: n / seconds, cpu: cpu() }
  } finally {
    await client.end()
    await utils.release()
    await Promise.all(workers.map((w) => new Promise((exit) => (w.once("exit", exit), w.send("stop")))))
  }
}
