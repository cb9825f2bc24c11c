/**
 * One Herald process of the PostgreSQL bench (bench/pgHerald.ts forks 1, 2 or 4 on one
 * database): the whole runtime on the database URL it is given, delivering to its own memory
 * sink that keeps nothing. On "go" it enqueues its share, 500 per enqueueMany; it reports its
 * sink calls as they go (workerProgress.ts), and on "stop" their total, and shuts down in order.
 */
import { Effect } from "effect"
import { Herald } from "../src/layers/Herald.js"
import { MemorySink } from "../src/sinks/memory.js"
import { reportProgress } from "./workerProgress.js"

const [url, shareArg, prefix] = process.argv.slice(2)
const share = Number(shareArg)

/** Resolves on the first IPC message `name`; listening starts at once, so none is missed. */
const message = (name: string) =>
  new Promise<void>((resolve) => {
    const on = (m: unknown) => {
      if (m === name) {
        process.off("message", on)
        resolve()
      }
    }
    process.on("message", on)
  })

const program = Effect.gen(function* () {
  const herald = yield* Herald
  const mem = yield* MemorySink
  yield* mem.keepReceived(false)
  let calls = 0
  yield* mem.setHandler(() => Effect.sync(() => (calls++, {})))
  const stopReporting = reportProgress(() => calls)
  const go = message("go")
  const stop = message("stop")
  process.send?.("ready")
  yield* Effect.promise(() => go)
  for (let i = 0; i < share; i += 500) {
    const size = Math.min(500, share - i)
    yield* herald.enqueueMany(Array.from({ length: size }, (_, j) => ({ kind: "bench", title: `${prefix}-${i + j}` })))
  }
  process.send?.("enqueued")
  yield* Effect.promise(() => stop)
  stopReporting()
  return calls
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Herald.layer({ database: url! })))).then(
  (calls) => process.send?.({ calls }, () => process.exit(0)),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
