/** How the daemon listens and guards its API: read once from `HERALD_*` with Effect Config (a bad value fails at boot naming it). */
import { Config, Context, Effect, Layer, Option, Redacted } from "effect"

export interface HttpOptionsShape {
  readonly host: string
  /** 0 picks a free port (tests). */
  readonly port: number
  /** `HERALD_TOKEN`; when absent the token stored in the database is used (generated on first start). */
  readonly token: Option.Option<Redacted.Redacted<string>>
  /** Larger bodies answer 413 without being read. */
  readonly maxBodyBytes: number
  /**
   * SSE: the `retry:` hint, the heartbeat period, and how long a client's socket may take
   * nothing before its stream is ended (cleanly: it resumes from Last-Event-ID when it reads
   * again); one that does not read even the end is cut as long after.
   */
  readonly sseRetryMs: number
  readonly sseHeartbeatMs: number
  readonly sseStallMs: number
  /** On shutdown, how long in-flight requests may take before their connections are closed. */
  readonly shutdownGraceMs: number
}

export const defaultHttpOptions: HttpOptionsShape = {
  host: "127.0.0.1",
  port: 7878,
  token: Option.none(),
  maxBodyBytes: 1024 * 1024,
  sseRetryMs: 2_000,
  sseHeartbeatMs: 15_000,
  // Two heartbeats: a client that has not read for that long is not reading.
  sseStallMs: 30_000,
  shutdownGraceMs: 10_000
}

const fromEnv = Config.all({
  host: Config.string("HERALD_HOST").pipe(Config.withDefault(defaultHttpOptions.host)),
  // 0 asks the OS for a free port (tests); Config.port refuses it.
  port: Config.integer("HERALD_PORT").pipe(
    Config.validate({ message: "must be a port number, 0-65535", validation: (p) => p >= 0 && p <= 65_535 }),
    Config.withDefault(defaultHttpOptions.port)
  ),
  // Validated as a string first, so the error names the variable; redacted after.
  token: Config.option(Config.redacted(Config.string("HERALD_TOKEN").pipe(
    Config.validate({ message: "must be at least 16 characters", validation: (t) => t.length >= 16 })
  ))),
  maxBodyBytes: Config.integer("HERALD_MAX_BODY_BYTES").pipe(
    Config.validate({ message: "must be between 1024 and 67108864 (64 MiB)", validation: (n) => n >= 1_024 && n <= 64 * 1024 * 1024 }),
    Config.withDefault(defaultHttpOptions.maxBodyBytes)
  )
})

export class HttpOptions extends Context.Tag("herald/http/HttpOptions")<HttpOptions, HttpOptionsShape>() {
  static readonly layer = (options: Partial<HttpOptionsShape> = {}) =>
    Layer.succeed(HttpOptions, { ...defaultHttpOptions, ...options })
  /** From the environment; `overrides` win (tests, benchmarks). */
  static readonly fromEnv = (overrides: Partial<HttpOptionsShape> = {}) =>
    Layer.effect(HttpOptions, Effect.map(fromEnv, (env) => ({ ...defaultHttpOptions, ...env, ...overrides })))
}
