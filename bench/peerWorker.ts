/**
 * One plainjob worker process for the peer baseline (bench/peer.ts forks one per core, as
 * plainjob's README does for high throughput). Its job does nothing, like Herald's memory sink.
 */
import Database from "better-sqlite3"
import { better, defineQueue, defineWorker } from "plainjob"

const quiet = { debug() {}, info() {}, warn() {}, error: console.error }
const queue = defineQueue({ connection: better(new Database(process.argv[2]!)), logger: quiet })
const worker = defineWorker("bench", async () => {}, { queue, logger: quiet, pollIntervall: 1 })
process.on("message", () => {
  void worker.stop().then(() => {
    queue.close()
    process.exit(0)
  })
})
void worker.start()
process.send?.("ready")
