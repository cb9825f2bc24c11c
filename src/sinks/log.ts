/** The `log` sink: one JSON line per delivery, to stdout or appended to the file at `path`. */
import { Effect } from "effect"
import * as fs from "node:fs"
import type { Sink } from "../domain/Sink.js"
import { SinkFailure } from "../domain/Sink.js"

export const makeLogSink = Effect.gen(function* () {
  const streams = new Map<string, fs.WriteStream>()
  yield* Effect.addFinalizer(() =>
    Effect.promise(() =>
      Promise.all([...streams.values()].map((s) => new Promise<void>((resolve) => s.end(() => resolve()))))
    )
  )
  const write = (path: string | undefined, line: string) =>
    Effect.async<void, SinkFailure>((resume) => {
      const done = (err?: Error | null) =>
        resume(err ? Effect.fail(new SinkFailure({ retryable: true, code: "log_write_failed", message: err.message })) : Effect.void)
      if (path === undefined) {
        process.stdout.write(line, done)
        return
      }
      let stream = streams.get(path)
      if (stream === undefined) {
        stream = fs.createWriteStream(path, { flags: "a" })
        streams.set(path, stream)
      }
      stream.write(line, done)
    })
  const sink: Sink = {
    deliver: (config, d) =>
      write(
        config.type === "log" ? config.path : undefined,
        JSON.stringify({ herald: "delivery", sink: d.sink, deliveryId: d.deliveryId, attempt: d.attempt, ...d.notification }) + "\n"
      ).pipe(Effect.as({}))
  }
  return sink
})
