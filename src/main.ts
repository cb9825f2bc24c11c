/** The daemon: `node dist/main.js`. Migrates, runs the runtime, stops in order on SIGINT/SIGTERM. */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Layer, Logger, LogLevel, Option } from "effect"
import * as path from "node:path"
import { DaemonConfig } from "./layers/Config.js"
import { Herald } from "./layers/Herald.js"

const program = Effect.gen(function* () {
  const config = yield* DaemonConfig
  yield* Effect.logInfo("starting").pipe(Effect.annotateLogs({ database: path.resolve(config.database), sync: config.sync }))
  yield* Layer.launch(
    Layer.scopedDiscard(
      Effect.gen(function* () {
        const herald = yield* Herald
        const stats = yield* herald.stats()
        yield* Effect.logInfo("herald is running; Ctrl-C stops it").pipe(
          Effect.annotateLogs({ database: path.resolve(config.database), deliveries: stats.byStatus })
        )
        yield* Effect.addFinalizer(() => Effect.logInfo("shutting down: draining the runtime, then closing the database"))
      })
    ).pipe(Layer.provideMerge(Herald.layer({ database: config.database, sync: config.sync })))
  )
})

/** A startup error is one clear line on stderr and a non-zero exit. */
const main = program.pipe(
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    const failure = Cause.failureOption(cause)
    const message = Option.isSome(failure)
      ? (failure.value as { message?: string }).message ?? String(failure.value)
      : Cause.pretty(cause)
    return Effect.sync(() => {
      process.stderr.write(`herald: ${message}\n`)
      process.exitCode = 1
    })
  }),
  Effect.provide(Logger.json),
  Logger.withMinimumLogLevel(LogLevel.Info)
)

NodeRuntime.runMain(main, { disableErrorReporting: true, disablePrettyLogger: true })
