/**
 * The session reaper: every `reaperIntervalMs` it probes the runtime of each live session and
 * reports the ones whose runtime is `gone` as dead (Sessions.observeLiveness, cause "reaper":
 * the session dies, runtime_gone, and its human is told once). Doubt (`unknown`) reaps nothing.
 */
import { Effect } from "effect"
import { runForever } from "../../lib/loops.js"
import { Probes, type RuntimeRef } from "../../runtime/reaper/Probes.js"
import { RuntimeConfig } from "../../runtime/RuntimeConfig.js"
import { SessionStore } from "../../store/SessionStore.js"
import { Sessions } from "../Sessions.js"

/** Probes in flight at once: a slow http runtime must not hold up the whole scan. */
const probeConcurrency = 8

/** What a liveness observation's reason may hold (LivenessObservation: 500 characters). */
const maxReason = 500

/** What the probe saw, in the words a human reads in the session.died notification. */
export const goneReason = (runtime: RuntimeRef): string => {
  const text = runtime.kind === "pid"
    ? `process ${String(runtime["pid"])} is gone`
    : runtime.kind === "http"
    ? `its runtime at ${String(runtime["url"])} is gone (refused, no such host, or 404/410)`
    : `its ${runtime.kind} runtime is gone`
  return text.length <= maxReason ? text : `${text.slice(0, maxReason - 1)}…`
}

export interface ReapResult {
  /** Live sessions whose runtime was probed. */
  readonly probed: number
  /** The ids of the sessions this pass reported dead, in id order. */
  readonly reaped: ReadonlyArray<string>
}

export class Reaper extends Effect.Service<Reaper>()("herald/Reaper", {
  scoped: Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const store = yield* SessionStore
    const sessions = yield* Sessions
    const probes = yield* Probes

    /** One session: probed, and reported dead if its runtime is gone; whether it was. */
    const reapSession = (id: string, runtime: RuntimeRef) =>
      Effect.gen(function* () {
        if ((yield* probes.probe(runtime)) !== "gone") return false
        const reason = goneReason(runtime)
        return yield* sessions.observeLiveness(id, { alive: false, reason }, "reaper").pipe(
          Effect.as(true),
          Effect.tap(() => Effect.logInfo(`session ${id} reaped: ${reason}`).pipe(Effect.annotateLogs({ sessionId: id }))),
          // Ended (or removed) between the scan and the probe's answer: nothing left to reap.
          Effect.catchTags({ SessionTransitionRefused: () => Effect.succeed(false), SessionNotFound: () => Effect.succeed(false) })
        )
      })

    /**
     * One pass over the live sessions with a runtime. A storage error is a defect here: the
     * loop (runForever) logs it, backs off and runs the next pass.
     */
    const reapOnce: Effect.Effect<ReapResult> = Effect.gen(function* () {
      const live = yield* store.liveSessionsWithRuntime
      const found = yield* Effect.forEach(
        live.filter((s) => s.runtime !== null),
        (s) => Effect.map(reapSession(s.id, s.runtime!), (gone) => (gone ? s.id : null)),
        { concurrency: probeConcurrency }
      )
      return { probed: found.length, reaped: found.filter((id): id is string => id !== null) }
    }).pipe(Effect.orDie, Effect.withSpan("Reaper.reapOnce"))

    if (config.background && config.reaperIntervalMs > 0) {
      yield* Effect.forkScoped(runForever(Effect.zipRight(Effect.sleep(config.reaperIntervalMs), reapOnce), "reaping sessions"))
    }
    return { reapOnce } as const
  }),
  dependencies: [Probes.Default]
}) {}
