/**
 * Another Herald process on the same database (twoProcesses.worker.mjs, from dist/): it runs a
 * dispatcher and enqueues on request; closing the scope stops it gracefully, unless the test
 * killed it already.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as readline from "node:readline"

const worker = new URL("../twoProcesses.worker.mjs", import.meta.url).pathname

export interface Worker {
  readonly child: ChildProcess
  readonly enqueue: (n: number, prefix: string) => Effect.Effect<{ enqueued: Array<string>; at: number }>
}

export interface WorkerOptions {
  /** JSON merged into the worker's Herald.layer config (e.g. `{ runtime: { owner: "w1" } }`). */
  readonly config?: object
  /** The worker is SIGKILLed after this long, so a stuck test cannot leave it behind. */
  readonly lifetimeMs?: number
}

/** Starts a worker process on `db` (a SQLite file or a postgres:// URL) and waits until its runtime is up. */
export const startWorker = (db: string, options: WorkerOptions = {}) =>
  Effect.acquireRelease(
    Effect.async<Worker>((resume) => {
      const child = spawn(process.execPath, [worker, db, JSON.stringify(options.config ?? {})], { stdio: ["pipe", "pipe", "inherit"] })
      const waiting: Array<(m: { enqueued: Array<string>; at: number }) => void> = []
      readline.createInterface({ input: child.stdout! }).on("line", (line) => {
        if (!line.startsWith("{")) { // the worker's own log lines, shown with HERALD_TEST_WORKER_LOG=1
          if (process.env["HERALD_TEST_WORKER_LOG"] === "1") process.stderr.write(`[worker ${child.pid}] ${line}\n`)
          return
        }
        const message = JSON.parse(line) as { ready?: boolean; enqueued?: Array<string>; at?: number }
        if (message.ready) return resume(Effect.succeed({ child, enqueue }))
        waiting.shift()?.(message as { enqueued: Array<string>; at: number })
      })
      const enqueue = (n: number, prefix: string) =>
        Effect.async<{ enqueued: Array<string>; at: number }>((done) => {
          waiting.push((m) => done(Effect.succeed(m)))
          child.stdin!.write(`enqueue ${n} ${prefix}\n`)
        })
      setTimeout(() => child.kill("SIGKILL"), options.lifetimeMs ?? 60_000).unref()
    }),
    ({ child }) => Effect.async<void>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
      child.on("exit", () => resume(Effect.void))
      child.stdin!.write("stop\n")
    })
  )
