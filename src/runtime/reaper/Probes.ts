/**
 * Runtime probes: whether a session's agent runtime is still there (`alive`, `gone`, or `unknown`
 * when the probe cannot tell), by the runtime's kind. Built in: `pid` and `http`; an embedder adds
 * kinds (a container id, a VM) with `Probes.layer({ kinds })`. What to do with the answer is the reaper's.
 */
import { Context, Effect, Layer, Scope } from "effect"
import { probePid } from "./pidProbe.js"

export type Liveness = "alive" | "gone" | "unknown"

/** A runtime as a session records it: its kind, and the fields that kind's probe reads. */
export interface RuntimeRef {
  readonly kind: string
  readonly [field: string]: unknown
}

/** One kind's probe. It cannot fail: what it cannot tell is `unknown`. */
export type Probe = (runtime: RuntimeRef) => Effect.Effect<Liveness>

/** The probes by runtime kind. */
export type ProbeRegistry = ReadonlyMap<string, Probe>

export interface ProbesOptions {
  /** How long the `http` probe waits for an answer before saying `unknown`; default 2000 ms. */
  readonly httpTimeoutMs?: number | undefined
  /** Probes of further kinds, by kind; one named `pid` or `http` replaces the built-in one. */
  readonly kinds?: Readonly<Record<string, Probe>> | undefined
}

/** The probes `registry` holds, as the service: an unknown kind, or a probe that dies, answers `unknown`. */
export const makeProbes = (registry: ProbeRegistry) => ({
  kinds: new Set(registry.keys()) as ReadonlySet<string>,
  probe: Effect.fn("Probes.probe")(function* (runtime: RuntimeRef) {
    const probe = registry.get(runtime.kind)
    if (probe === undefined) {
      yield* Effect.logWarning(`no probe for runtime kind "${runtime.kind}": liveness unknown`).pipe(Effect.annotateLogs({ kind: runtime.kind }))
      return "unknown" as Liveness
    }
    // An embedder's probe that throws must not take the reaper down; its doubt is `unknown`.
    return yield* probe(runtime).pipe(Effect.catchAllDefect((defect) =>
      Effect.as(Effect.logError(`the "${runtime.kind}" probe died: liveness unknown`).pipe(Effect.annotateLogs({ kind: runtime.kind, defect: String(defect) })), "unknown" as Liveness)))
  })
})

/** The built-in probes; the http one (and the HTTP client it needs) loads on its first use and lives as long as the scope. */
export const builtinProbes = (options: Pick<ProbesOptions, "httpTimeoutMs"> = {}) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const timeoutMs = options.httpTimeoutMs ?? 2_000
    const http = yield* Effect.cached(Scope.extend(
      Effect.flatMap(Effect.promise(() => import("./httpProbe.js")), (m) => m.makeHttpProbe(timeoutMs)),
      scope
    ))
    return new Map<string, Probe>([
      ["pid", probePid],
      ["http", (runtime) => Effect.flatMap(http, (probe) => probe(runtime))]
    ]) as ProbeRegistry
  })

export class Probes extends Context.Tag("herald/Probes")<Probes, ReturnType<typeof makeProbes>>() {
  /** The built-in probes with `options.kinds` added. */
  static readonly layer = (options: ProbesOptions = {}) =>
    Layer.scoped(Probes, Effect.map(builtinProbes(options), (builtins) =>
      makeProbes(new Map([...builtins, ...Object.entries(options.kinds ?? {})]))))

  /** Exactly the probes of `registry`, for an embedder that builds its own. */
  static readonly fromRegistry = (registry: ProbeRegistry) => Layer.succeed(Probes, makeProbes(registry))

  static readonly Default = Probes.layer()
}
