import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { type Probe, Probes } from "../../../src/runtime/reaper/Probes.js"
import { type Answer, receiver } from "../../support/receiver.js"

const probe = (runtime: { readonly kind: string; readonly [field: string]: unknown }) => Effect.flatMap(Probes, (p) => p.probe(runtime))

/** A real child process that runs until killed. */
const child = Effect.acquireRelease(
  Effect.async<ReturnType<typeof spawn>>((resume) => {
    const p = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })
    p.once("spawn", () => resume(Effect.succeed(p)))
    p.once("error", (e) => resume(Effect.die(e)))
  }),
  (p) => Effect.sync(() => { if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL") })
)

describe("Probes", () => {
  it.scopedLive("pid: a running child is alive; once killed and exited, gone", () =>
    Effect.gen(function* () {
      const p = yield* child
      const pid = p.pid!
      expect(yield* probe({ kind: "pid", pid })).toBe("alive")
      const exited = Effect.async<void>((resume) => { p.once("exit", () => resume(Effect.void)) })
      p.kill("SIGTERM")
      yield* exited
      expect(yield* probe({ kind: "pid", pid })).toBe("gone")
    }).pipe(Effect.provide(Probes.Default)))

  it.effect("pid: a process of another user (or ours, as root) is alive; a pid that is not a positive whole number is unknown", () =>
    Effect.gen(function* () {
      expect(yield* probe({ kind: "pid", pid: 1 })).toBe("alive") // init: EPERM unless we are root
      for (const pid of [0, -1, 1.5, "42", undefined]) expect(yield* probe({ kind: "pid", pid })).toBe("unknown")
    }).pipe(Effect.provide(Probes.Default)))

  it.scopedLive("http: 200 is alive, 404 and 410 gone, 503 and a redirect unknown; a closed server or an unknown host gone", () =>
    Effect.gen(function* () {
      const answers: ReadonlyArray<Answer> = [{ status: 200, body: "ok" }, { status: 404 }, { status: 410 }, { status: 503, body: "busy" }, { status: 302, headers: { location: "/elsewhere" } }]
      const seen: Array<string> = []
      const closed = yield* Effect.scoped(Effect.gen(function* () {
        const server = yield* receiver((_, i) => answers[i]!)
        for (let i = 0; i < answers.length; i++) seen.push(yield* probe({ kind: "http", url: `${server.url}/health` }))
        expect(server.received.map((r) => `${r.method} ${r.path}`)).toEqual(answers.map(() => "GET /health"))
        return server.url
      }))
      expect(seen).toEqual(["alive", "gone", "gone", "unknown", "unknown"])
      expect(yield* probe({ kind: "http", url: closed })).toBe("gone")
      // .invalid never resolves (RFC 6761): host not found.
      expect(yield* probe({ kind: "http", url: "http://agent.nothing-here.invalid/health" })).toBe("gone")
    }).pipe(Effect.provide(Probes.Default)))

  it.scopedLive("http: a server that never answers is unknown once the timeout passes", () =>
    Effect.gen(function* () {
      const server = yield* receiver(() => "hang")
      const started = Date.now()
      expect(yield* probe({ kind: "http", url: server.url })).toBe("unknown")
      const waited = Date.now() - started
      expect(waited).toBeGreaterThanOrEqual(150)
      expect(waited).toBeLessThan(1_500) // the option's 200 ms, not the 2 s default
      expect(server.received).toHaveLength(1)
    }).pipe(Effect.provide(Probes.layer({ httpTimeoutMs: 200 }))))

  it.effect("http: a runtime without a usable URL is unknown", () =>
    Effect.gen(function* () {
      for (const url of [undefined, 42, "not a url"]) expect(yield* probe({ kind: "http", url })).toBe("unknown")
    }).pipe(Effect.provide(Probes.Default)))

  it.effect("an added kind is probed by its own probe; a kind nobody registered, or a probe that dies, is unknown", () =>
    Effect.gen(function* () {
      const containers: Probe = (r) => Effect.succeed(r["id"] === "c-running" ? "alive" : "gone")
      const broken: Probe = () => Effect.die(new Error("docker socket missing"))
      const layer = Probes.layer({ kinds: { container: containers, vm: broken } })
      const answers = yield* Effect.all([
        probe({ kind: "container", id: "c-running" }),
        probe({ kind: "container", id: "c-stopped" }),
        probe({ kind: "vm", name: "x" }),
        probe({ kind: "lambda", arn: "x" }),
        Effect.map(Probes, (p) => [...p.kinds].sort())
      ]).pipe(Effect.provide(layer))
      expect(answers).toEqual(["alive", "gone", "unknown", "unknown", ["container", "http", "pid", "vm"]])
      // A registry of its own replaces the built-ins entirely.
      const own = yield* probe({ kind: "pid", pid: process.pid }).pipe(Effect.provide(Probes.fromRegistry(new Map([["container", containers]]))))
      expect(own).toBe("unknown")
      expect(yield* probe({ kind: "pid", pid: process.pid }).pipe(Effect.provide(Layer.fresh(Probes.Default)))).toBe("alive")
    }))
})
