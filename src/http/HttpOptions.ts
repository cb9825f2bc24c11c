/** How the daemon listens and guards its API: read once from `HERALD_*` with Effect Config (a bad value fails at boot naming it). */
import { Config, Context, Effect, Layer, Option, Redacted } from "effect"
import { envVar, integerVar, textVar } from "../lib/envVar.js"

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

/** The HTTP variables, each with its rule (see envVar.ts); read before anything starts. */
export const HttpEnvConfig = Config.all({
  host: textVar("HERALD_HOST", "an address or host name to listen on").pipe(Config.withDefault(defaultHttpOptions.host)),
  // 0 asks the OS for a free port (tests); Config.port refuses it.
  port: integerVar("HERALD_PORT", "a port number, 0-65535", (p) => p <= 65_535).pipe(Config.withDefault(defaultHttpOptions.port)),
  // The error says how long the value was, never the value.
  token: Config.option(envVar("HERALD_TOKEN", "at least 16 characters", (t) => (t.length >= 16 ? Redacted.make(t) : undefined), (t) => `${t.length}`)),
  maxBodyBytes: integerVar("HERALD_MAX_BODY_BYTES", "a number of bytes from 1024 to 67108864, 64 MiB", (n) => n >= 1_024 && n <= 64 * 1024 * 1024).pipe(
    Config.withDefault(defaultHttpOptions.maxBodyBytes)
  )
})

export class HttpOptions extends Context.Tag("herald/http/HttpOptions")<HttpOptions, HttpOptionsShape>() {
  static readonly layer = (options: Partial<HttpOptionsShape> = {}) =>
    Layer.succeed(HttpOptions, { ...defaultHttpOptions, ...options })
  /** From the environment; `overrides` win (tests, benchmarks). */
  static readonly fromEnv = (overrides: Partial<HttpOptionsShape> = {}) =>
    Layer.effect(HttpOptions, Effect.map(HttpEnvConfig, (env) => ({ ...defaultHttpOptions, ...env, ...overrides })))
}
