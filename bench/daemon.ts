/** The daemon (runtime + HTTP on 127.0.0.1, any free port) on a fresh database in a temp dir, routing to one memory sink, for the HTTP benchmarks. */
import { HttpServer } from "@effect/platform"
import { Effect, ManagedRuntime, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Herald } from "../src/layers/Herald.js"
import { daemonLayer, HttpOptions } from "../src/layers/Http.js"
import { MemorySink } from "../src/sinks/memory.js"

export interface BenchDaemon {
  readonly url: string
  /** The daemon's SQLite file, for benchmarks that open it from outside. */
  readonly database: string
  /** Stops the daemon and removes its database. */
  readonly stop: () => Promise<void>
}

export const startBenchDaemon = async (token: string, prefix: string): Promise<BenchDaemon> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const database = path.join(dir, "herald.db")
  const runtime = ManagedRuntime.make(
    daemonLayer({ database }, HttpOptions.layer({ port: 0, token: Option.some(Redacted.make(token)) }))
  )
  const stop = async () => {
    await runtime.dispose()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    const url = await runtime.runPromise(Effect.gen(function* () {
      const herald = yield* Herald
      const mem = yield* MemorySink
      yield* mem.keepReceived(false)
      yield* herald.putSettings({ sinks: { mem: { type: "memory" } }, routes: [{ sink: "mem" }] })
      const address = (yield* HttpServer.HttpServer).address
      return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
    }))
    return { url, database, stop }
  } catch (e) {
    await stop()
    throw e
  }
}
