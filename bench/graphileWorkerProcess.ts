/**
 * One graphile-worker process of the PostgreSQL bench (bench/graphileWorker.ts forks 1, 2 or 4),
 * tuned as graphile-worker's performance docs advise: 24 concurrent jobs, a local queue of 500,
 * job completions written at once (completeJobBatchDelay 0). Its one task does nothing, like
 * Herald's memory sink; its logger drops everything but errors. It reports its jobs done as
 * they go (workerProgress.ts); "stop" stops it and exits.
 */
import { Logger, run } from "graphile-worker"
import { reportProgress } from "./workerProgress.js"

const quiet = new Logger(() => (level, message) => {
  if (level === "error") console.error(message)
})

const runner = await run({
  connectionString: process.argv[2]!,
  concurrency: 24,
  noHandleSignals: true,
  pollInterval: 250,
  logger: quiet,
  taskList: { bench: async () => {} },
  preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } }
})
let done = 0
runner.events.on("job:success", () => void done++)
const stopReporting = reportProgress(() => done)
process.on("message", (m) => {
  if (m !== "stop") return
  stopReporting()
  void runner.stop().then(() => process.exit(0))
})
process.send?.("ready")
