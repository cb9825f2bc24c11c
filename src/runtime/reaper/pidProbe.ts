/**
 * The `pid` probe: whether a process id on this machine still names a process, by sending it
 * signal 0 (which checks for the process and delivers nothing).
 */
import { Effect } from "effect"
import type { Liveness, RuntimeRef } from "./Probes.js"

export const probePid = (runtime: RuntimeRef): Effect.Effect<Liveness> =>
  Effect.gen(function* () {
    const pid = runtime["pid"]
    // 0 and negative pids signal whole process groups: never a session's runtime.
    if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 0) {
      yield* Effect.logWarning("a pid runtime without a positive whole pid: liveness unknown").pipe(Effect.annotateLogs({ pid: String(pid) }))
      return "unknown"
    }
    try {
      // A zombie (a child that exited but was not reaped by its parent) still has its pid, so it
      // counts as alive here until its parent waits for it.
      process.kill(pid, 0)
      return "alive"
    } catch (e) {
      const code = (e as { code?: unknown }).code
      if (code === "ESRCH") return "gone"
      // The process exists but belongs to another user: not ours to signal, still alive.
      if (code === "EPERM") return "alive"
      yield* Effect.logWarning("signalling the pid failed: liveness unknown").pipe(Effect.annotateLogs({ pid: String(pid), error: String(code ?? e) }))
      return "unknown"
    }
  })
