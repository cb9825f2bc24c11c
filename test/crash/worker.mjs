// A Herald process for the crash test: routes to a log sink writing to a file, enqueues
// a load, says so on stdout, and keeps delivering until it is killed.
import { Effect } from "effect"
import * as path from "node:path"
import { Herald } from "../../dist/index.js"

const [database, logFile, count] = process.argv.slice(2)
const program = Effect.gen(function* () {
  const herald = yield* Herald
  yield* herald.putSettings({
    sinks: { file: { type: "log", path: logFile } },
    routes: [{ sink: "file" }],
    retry: { baseMs: 1000 },
    leaseMs: 1000
  })
  yield* herald.enqueueMany(Array.from({ length: Number(count) }, (_, i) => ({ kind: "crash", title: `n${i}` })))
  process.stdout.write("enqueued\n")
  yield* Effect.never
})
Effect.runPromise(program.pipe(Effect.provide(Herald.layer({ database, runtime: { claimBatch: 25, maxInFlight: 25, logDir: path.dirname(logFile) } }))))
