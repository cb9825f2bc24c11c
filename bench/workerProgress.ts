/**
 * Progress of forked bench workers over IPC: each worker reports how many items it has finished
 * (its sink calls, its jobs done) every 50 ms, and the parent sums the latest reports. The sum
 * only says when to start asking the database, whose count is the one the figures use, so
 * the database is not polled (and loaded) by the bench for the whole run.
 */
import type { ChildProcess } from "node:child_process"

/** In a worker: reports `count()` every 50 ms while it changes; the returned function stops it. */
export const reportProgress = (count: () => number): (() => void) => {
  let last = -1
  const timer = setInterval(() => {
    const done = count()
    if (done !== last) process.send?.({ progress: (last = done) })
  }, 50)
  return () => clearInterval(timer)
}

/** In the parent: the sum of the workers' latest reports. */
export const progressOf = (workers: ReadonlyArray<ChildProcess>): (() => number) => {
  const latest = new Map<ChildProcess, number>()
  for (const w of workers) {
    w.on("message", (m: unknown) => {
      if (typeof m === "object" && m !== null && "progress" in m && typeof m.progress === "number") latest.set(w, m.progress)
    })
  }
  return () => [...latest.values()].reduce((a, b) => a + b, 0)
}
