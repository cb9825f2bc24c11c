/**
 * The session reaper on a real Herald and database, with real runtimes: a child process that
 * runs and then is killed, an http runtime that answers 503, and the background loop on the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { spawn } from "node:child_process"
import { Herald, type HeraldConfig } from "../../../src/layers/Herald.js"
import { Sessions } from "../../../src/services/Sessions.js"
import { goneReason, Reaper } from "../../../src/services/sessions/Reaper.js"
import { eventually, heraldLayer, memorySettings, stays, tempDatabase } from "../../support/herald.js"
import { receiver } from "../../support/receiver.js"

/** `body` against a fresh Herald (its Reaper included). */
const withReaper = <A, E, R>(body: Effect.Effect<A, E, R>, runtime: HeraldConfig["runtime"] = {}) =>
  Effect.gen(function* () {
    const db = yield* tempDatabase
    const layer = Layer.fresh(heraldLayer(db, runtime))
    return yield* Effect.scoped(Effect.provide(Effect.gen(function* () {
      yield* (yield* Herald).putSettings(memorySettings)
      return yield* body
    }), layer))
  })

/** A real child process that runs until killed; `kill` ends it and waits for its exit. */
const child = Effect.gen(function* () {
  const p = yield* Effect.acquireRelease(
    Effect.async<ReturnType<typeof spawn>>((resume) => {
      const p = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })
      p.once("spawn", () => resume(Effect.succeed(p)))
      p.once("error", (e) => resume(Effect.die(e)))
    }),
    (p) => Effect.sync(() => { if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL") })
  )
  const kill = Effect.async<void>((resume) => {
    p.once("exit", () => resume(Effect.void))
    p.kill("SIGTERM")
  })
  return { pid: p.pid!, kill }
})

const session = (runtime: Record<string, unknown>) =>
  Effect.gen(function* () {
    const sessions = yield* Sessions
    yield* sessions.createProject({ id: "web", name: "Web" }).pipe(Effect.catchTag("ProjectExists", () => Effect.void))
    return yield* sessions.createSession({ projectId: "web", agent: "claude", runtime })
  })

const diedNotices = (sessionId: string) =>
  Effect.flatMap(Herald, (h) => Effect.map(h.listNotifications({ sessionId, limit: 100 }), (p) => p.items.filter((n) => n.kind === "session.died")))

describe("Reaper", () => {
  it.scoped("a running process is left alone; once it has exited its session dies (runtime_gone) with one session.died, and a second pass does nothing more", () =>
    withReaper(Effect.gen(function* () {
      const reaper = yield* Reaper
      const sessions = yield* Sessions
      const p = yield* child
      const s = yield* session({ kind: "pid", pid: p.pid })

      expect(yield* reaper.reapOnce).toEqual({ probed: 1, reaped: [] })
      expect(yield* sessions.get(s.id)).toMatchObject({ state: "spawning", isAlive: true, terminationReason: null })
      expect(yield* diedNotices(s.id)).toHaveLength(0)

      yield* p.kill
      expect(yield* reaper.reapOnce).toEqual({ probed: 1, reaped: [s.id] })
      expect(yield* sessions.get(s.id)).toMatchObject({ state: "died", isAlive: false, terminationReason: "runtime_gone" })
      const died = yield* diedNotices(s.id)
      expect(died).toHaveLength(1)
      expect(died[0]!.priority).toBe("high")
      expect(died[0]!.title).toContain(`process ${p.pid} is gone`)

      // Dead sessions are no longer live: the next pass probes nothing and pages no one.
      expect(yield* reaper.reapOnce).toEqual({ probed: 0, reaped: [] })
      expect(yield* diedNotices(s.id)).toHaveLength(1)
    }), { background: false }))

  it.scoped("an http runtime that answers 503 is not reaped (unknown is doubt), while a dead process beside it is", () =>
    withReaper(Effect.gen(function* () {
      const reaper = yield* Reaper
      const sessions = yield* Sessions
      const server = yield* receiver(() => ({ status: 503, body: "busy" }))
      const busy = yield* session({ kind: "http", url: `${server.url}/health` })
      const p = yield* child
      const dead = yield* session({ kind: "pid", pid: p.pid })
      yield* p.kill

      expect(yield* reaper.reapOnce).toEqual({ probed: 2, reaped: [dead.id] })
      expect(server.received.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /health"])
      expect(yield* sessions.get(busy.id)).toMatchObject({ state: "spawning", isAlive: true, terminationReason: null })
      expect(yield* diedNotices(busy.id)).toHaveLength(0)
      expect((yield* sessions.get(dead.id)).state).toBe("died")
    }), { background: false }))

  it.scoped("a session ended (killed) before its process exits is not probed, and its exit is no death: no session.died page", () =>
    withReaper(Effect.gen(function* () {
      const reaper = yield* Reaper
      const sessions = yield* Sessions
      const p = yield* child
      const s = yield* session({ kind: "pid", pid: p.pid })
      yield* sessions.terminate(s.id, { reason: "operator stopped it" })
      yield* p.kill
      expect(yield* reaper.reapOnce).toEqual({ probed: 0, reaped: [] })
      expect(yield* sessions.get(s.id)).toMatchObject({ state: "killed", isAlive: false })
      expect(yield* diedNotices(s.id)).toHaveLength(0)
    }), { background: false }))

  it.scoped("in the background, a dead process's session dies once the interval passes on the clock, and not before", () =>
    withReaper(Effect.gen(function* () {
      const sessions = yield* Sessions
      const p = yield* child
      const s = yield* session({ kind: "pid", pid: p.pid })
      yield* p.kill
      yield* TestClock.adjust(20_000)
      yield* stays(sessions.get(s.id), (d) => d.state === "spawning", "reaped before its interval passed")
      yield* TestClock.adjust(10_000)
      yield* eventually(sessions.get(s.id), (d) => d.state === "died", "the background reaper marks the session died")
      expect(yield* diedNotices(s.id)).toHaveLength(1)
    }), { background: true, reaperIntervalMs: 30_000 }))

  it("the reason says what the probe saw, within a liveness reason's 500 characters", () => {
    expect(goneReason({ kind: "pid", pid: 123 })).toBe("process 123 is gone")
    expect(goneReason({ kind: "vm", id: "x" })).toBe("its vm runtime is gone")
    const long = goneReason({ kind: "http", url: `http://127.0.0.1/${"a".repeat(2_000)}` })
    expect(long.length).toBe(500)
    expect(long.startsWith("its runtime at http://127.0.0.1/")).toBe(true)
  })
})
