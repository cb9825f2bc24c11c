// Another Herald process on the same database (a SQLite file or a postgres:// URL) for the
// multi-process tests: it runs the dispatcher from dist/, and on each stdin line
// "enqueue N PREFIX" enqueues N notifications and prints {"enqueued": [ids], "at": ms}. "stop"
// closes the layer (a graceful stop) and exits. An optional second argument is JSON merged into
// Herald.layer's config (e.g. {"runtime": {"owner": "w1"}}).
import { Effect } from "effect"
import * as readline from "node:readline"
import { Herald } from "../../dist/index.js"

const [database, extra] = process.argv.slice(2)
const config = { ...JSON.parse(extra ?? "{}"), database }
const lines = readline.createInterface({ input: process.stdin })
const program = Effect.gen(function* () {
  const herald = yield* Herald
  const run = (effect) => Effect.runPromise(effect)
  process.stdout.write(JSON.stringify({ ready: true }) + "\n")
  yield* Effect.async((resume) => {
    lines.on("line", (line) => {
      const [command, n, prefix] = line.trim().split(" ")
      if (command === "stop") return resume(Effect.void)
      if (command !== "enqueue") return
      const inputs = Array.from({ length: Number(n) }, (_, i) => ({ kind: "two.processes", title: `${prefix}-${i}` }))
      run(herald.enqueueMany(inputs)).then((results) => {
        process.stdout.write(JSON.stringify({ enqueued: results.map((r) => r.notification.id), at: Date.now() }) + "\n")
      })
    })
  })
})
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Herald.layer(config)))).then(() => process.exit(0))
