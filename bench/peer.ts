/**
 * The peer baseline: plainjob, a job queue on better-sqlite3 that advertises 15,000 jobs/s
 * (one row per job, no change feed, no attempt history). Same job count as Herald's figure,
 * added in one call, processed by one worker process per core; measured add -> all done.
 */
import Database from "better-sqlite3"
import { fork } from "node:child_process"
import * as os from "node:os"
import { better, defineQueue } from "plainjob"

const quiet = { debug() {}, info() {}, warn() {}, error: console.error }

export const peerJobsPerSecond = async (file: string, n: number): Promise<{ perSecond: number; processes: number }> => {
  const db = new Database(file)
  const queue = defineQueue({ connection: better(db), logger: quiet })
  const processes = os.cpus().length
  const workers = Array.from({ length: processes }, () => fork(new URL("./peerWorker.js", import.meta.url), [file]))
  await Promise.all(workers.map((w) => new Promise((ready) => w.once("message", ready))))
  // An index seek (status leads plainjob's index), so polling costs the workers nothing.
  const waiting = db.prepare("SELECT EXISTS (SELECT 1 FROM plainjob_jobs WHERE status IN (0, 1)) AS any")
  const started = performance.now()
  queue.addMany("bench", Array.from({ length: n }, (_, i) => ({ i })))
  while ((waiting.get() as { any: number }).any === 1) await new Promise((r) => setTimeout(r, 2))
  const seconds = (performance.now() - started) / 1000
  await Promise.all(workers.map((w) => new Promise((exit) => (w.once("exit", exit), w.send("stop")))))
  queue.close()
  return { perSecond: n / seconds, processes }
}
