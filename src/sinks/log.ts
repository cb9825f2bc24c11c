/**
 * The `log` sink: one JSON line per delivery, to stdout or appended to the file at `path`, which
 * must lie inside `logDir` (logPath.ts). A stored path that does not fails its deliveries for good.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import type { Sink } from "../domain/Sink.js"
import { SinkFailure } from "../domain/Sink.js"
import { resolveLogPath } from "./logPath.js"

export const makeLogSink = (logDir: string | undefined) => Effect.gen(function* () {
  /** By real file: two paths to one file share a stream, so lines never interleave mid-write. */
  const streams = new Map<string, fs.WriteStream>()
  /**
   * Paths already resolved. Checked once, when the file is first opened: the stream then writes
   * to the file that was checked, whatever a link is changed to afterwards.
   */
  const files = new Map<string, string>()
  const fileOf = (path: string): string | SinkFailure => {
    const known = files.get(path)
    if (known !== undefined) return known
    const resolved = resolveLogPath(logDir, path)
    if ("refused" in resolved) {
      return new SinkFailure({ retryable: false, code: "log_path_not_allowed", message: `the sink's path ${path} is not allowed: ${resolved.refused}` })
    }
    files.set(path, resolved.file)
    return resolved.file
  }
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
      const file = fileOf(path)
      if (file instanceof SinkFailure) {
        resume(Effect.fail(file))
        return
      }
      let stream = streams.get(file)
      if (stream === undefined) {
        stream = fs.createWriteStream(file, { flags: "a" })
        streams.set(file, stream)
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
