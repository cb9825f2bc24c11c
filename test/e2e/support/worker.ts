/**
 * Another Herald process on the same database file (twoProcesses.worker.mjs, from dist/): it
 * runs a dispatcher and enqueues on request; closing the scope stops it gracefully.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as readline from "node:readline"

const worker = new URL("../twoProcesses.worker.mjs", import.meta.url).pathname

export interface Worker {
  readonly child: ChildProcess
  readonly enqueue: (n: number, prefix: string) => Effect.Effect<{ enqueued: Array<string>; at: number }>
}

/** Starts a worker process and waits until its runtime is up. */
export const startWorker = (db: string) =>
  Effect.acquireRelease(
    Effect.async<Worker>((resume) => {
      const child = spawn(process.execPath, [worker, db], { stdio: ["pipe", "pipe", "inherit"] })
      const waiting: Array<(m: { enqueued: Array<string>; at: number }) => void> = []
      readline.createInterface({ input: child.stdout! }).on("line", (line) => {
        if (!line.startsWith("{")) return // the worker's own log lines
        const message = JSON.parse(line) as { ready?: boolean; enqueued?: Array<string>; at?: number }
        if (message.ready) return resume(Effect.succeed({ child, enqueue }))
        waiting.shift()?.(message as { enqueued: Array<string>; at: number })
      })
      const enqueue = (n: number, prefix: string) =>
        Effect.async<{ enqueued: Array<string>; at: number }>((done) => {
          waiting.push((m) => done(Effect.succeed(m)))
          child.stdin!.write(`enqueue ${n} ${prefix}\n`)
        })
      setTimeout(() => child.kill("SIGKILL"), 60_000).unref()
    }),
    ({ child }) => Effect.async<void>((resume) => {
      if (child.exitCode !== null) return resume(Effect.void)
      child.on("exit", () => resume(Effect.void))
      child.stdin!.write("stop\n")
    })
  )
