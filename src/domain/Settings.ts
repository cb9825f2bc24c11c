/**
 * The settings document: sinks, routes, retry policy, lease TTL, integrations. Its shape is a public
 * contract (shared/DESIGN.md): extend it, never rename. Storage is SettingsStore's.
 */
import { Schema } from "effect"
import { SinkName } from "./Ids.js"
import { Priority } from "./Priority.js"

const PositiveInt = Schema.Int.pipe(Schema.positive({ message: () => "must be a positive whole number" }))
const enabled = Schema.optionalWith(Schema.Boolean, { default: () => true })
/** At most this many calls to the sink at once, from one Herald process; absent: only the process-wide bound. */
const concurrency = Schema.optional(PositiveInt.pipe(Schema.lessThanOrEqualTo(10_000)))
/** A token bucket per Herald process: `perSecond` calls a second on average, `burst` at once after a quiet spell. */
export const RateLimit = Schema.Struct({
  perSecond: Schema.Number.pipe(Schema.greaterThan(0, { message: () => "must be a number of calls a second greater than 0" }), Schema.lessThanOrEqualTo(100_000)),
  burst: Schema.optional(PositiveInt.pipe(Schema.lessThanOrEqualTo(100_000)))
})
const rateLimit = Schema.optional(RateLimit)
/**
 * A circuit breaker: after `failureThreshold` retryable failures in a row the sink is open and
 * its deliveries wait without spending attempts; after `cooldownMs` one probe goes out. Each
 * failed probe multiplies the cooldown by `factor`, up to `maxCooldownMs`.
 */
export const CircuitSettings = Schema.Struct({
  failureThreshold: PositiveInt.pipe(Schema.lessThanOrEqualTo(1_000)),
  cooldownMs: PositiveInt.pipe(Schema.between(100, 86_400_000, { message: () => "must be between 100 and 86400000 milliseconds" })),
  maxCooldownMs: Schema.optional(PositiveInt.pipe(Schema.lessThanOrEqualTo(86_400_000))),
  factor: Schema.optional(Schema.Number.pipe(Schema.between(1, 10)))
}).pipe(Schema.filter((c) =>
  c.maxCooldownMs === undefined || c.maxCooldownMs >= c.cooldownMs || { path: ["maxCooldownMs"], message: "must be at least cooldownMs" }
))
export type CircuitSettings = typeof CircuitSettings.Type
const circuit = Schema.optional(CircuitSettings)

const retryFields = {
  maxAttempts: PositiveInt.pipe(Schema.lessThanOrEqualTo(1_000)),
  baseMs: PositiveInt,
  factor: Schema.Number.pipe(Schema.between(1, 10)),
  capMs: PositiveInt,
  /** A delivery whose lease expired this many times goes `dead`: a poison message must not crash-loop. */
  maxRescues: PositiveInt.pipe(Schema.lessThanOrEqualTo(100))
}

/** A sink's own retry policy: each field it gives replaces the global `retry`'s, the rest fall back to it. */
export const SinkRetrySettings = Schema.Struct({
  maxAttempts: Schema.optional(retryFields.maxAttempts),
  baseMs: Schema.optional(retryFields.baseMs),
  factor: Schema.optional(retryFields.factor),
  capMs: Schema.optional(retryFields.capMs),
  maxRescues: Schema.optional(retryFields.maxRescues)
})
export type SinkRetrySettings = typeof SinkRetrySettings.Type
const retry = Schema.optional(SinkRetrySettings)
const HttpUrl = Schema.String.pipe(
  Schema.filter((s) => {
    try {
      const u = new URL(s)
      return u.protocol === "http:" || u.protocol === "https:" || "must be an http(s) URL"
    } catch {
      return "must be an absolute URL"
    }
  })
)

export const WebhookSink = Schema.Struct({
  type: Schema.Literal("webhook"),
  enabled,
  concurrency,
  rateLimit,
  retry,
  circuit,
  url: HttpUrl,
  secret: Schema.optional(Schema.String),
  timeoutMs: Schema.optionalWith(PositiveInt.pipe(Schema.lessThanOrEqualTo(120_000)), { default: () => 10_000 }),
  allowPrivateNetwork: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
/**
 * Messages to a session's coding agent, posted to the session's `agentEndpoint` and signed like a
 * webhook's (the URL is the session's, not the sink's).
 */
export const AgentSink = Schema.Struct({
  type: Schema.Literal("agent"),
  enabled,
  concurrency,
  rateLimit,
  retry,
  circuit,
  secret: Schema.optional(Schema.String),
  timeoutMs: Schema.optionalWith(PositiveInt.pipe(Schema.lessThanOrEqualTo(120_000)), { default: () => 10_000 }),
  allowPrivateNetwork: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export const SlackSink = Schema.Struct({
  type: Schema.Literal("slack"),
  enabled,
  concurrency,
  rateLimit,
  retry,
  circuit,
  url: HttpUrl,
  allowPrivateNetwork: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export const EmailSink = Schema.Struct({
  type: Schema.Literal("email"),
  enabled,
  concurrency,
  rateLimit,
  retry,
  circuit,
  host: Schema.String.pipe(Schema.minLength(1)),
  port: Schema.Int.pipe(Schema.between(1, 65_535)),
  secure: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  user: Schema.optional(Schema.String),
  password: Schema.optional(Schema.String),
  from: Schema.String.pipe(Schema.minLength(3)),
  to: Schema.Array(Schema.String.pipe(Schema.minLength(3))).pipe(Schema.minItems(1))
})
/** A pull sink: an external app (the desktop) claims its deliveries over the API. */
export const DesktopSink = Schema.Struct({ type: Schema.Literal("desktop"), enabled, retry })
/** One JSON line per delivery, to stdout or to `path`. */
export const LogSink = Schema.Struct({ type: Schema.Literal("log"), enabled, concurrency, rateLimit, retry, circuit, path: Schema.optional(Schema.String) })
/** Deliveries handed to the embedding program in memory (see MemorySink). */
export const MemorySinkConfig = Schema.Struct({ type: Schema.Literal("memory"), enabled, concurrency, rateLimit, retry, circuit })

export const SinkConfig = Schema.Union(WebhookSink, AgentSink, SlackSink, EmailSink, DesktopSink, LogSink, MemorySinkConfig)
export type SinkConfig = typeof SinkConfig.Type
export type SinkType = SinkConfig["type"]

/** The sink's own bound on calls under way at once (push sinks only). */
export const concurrencyOf = (config: SinkConfig | undefined): number =>
  config !== undefined && "concurrency" in config && config.concurrency !== undefined ? config.concurrency : Infinity

/** The sink's token bucket, if it has a `rateLimit` (push sinks only); `burst` defaults to one second's worth, at least 1. */
export const rateOf = (config: SinkConfig | undefined): { readonly perSecond: number; readonly burst: number } | undefined => {
  if (config === undefined || !("rateLimit" in config) || config.rateLimit === undefined) return undefined
  const { perSecond, burst } = config.rateLimit
  return { perSecond, burst: burst ?? Math.max(1, Math.ceil(perSecond)) }
}

/** The sink's breaker policy with its defaults filled in (factor 2, at most ten minutes or cooldownMs), or null without one. */
export const circuitPolicyOf = (config: SinkConfig | undefined): {
  readonly failureThreshold: number
  readonly cooldownMs: number
  readonly maxCooldownMs: number
  readonly factor: number
} | null => {
  if (config === undefined || !("circuit" in config) || config.circuit === undefined) return null
  const { failureThreshold, cooldownMs, maxCooldownMs, factor } = config.circuit
  return { failureThreshold, cooldownMs, maxCooldownMs: maxCooldownMs ?? Math.max(cooldownMs, 600_000), factor: factor ?? 2 }
}

/** Sink types that the dispatcher does not push to: their consumers claim over the API. */
export const pullSinkTypes: ReadonlySet<SinkType> = new Set(["desktop"])

export const Route = Schema.Struct({
  sink: SinkName,
  minPriority: Schema.optionalWith(Priority, { default: () => "low" as const }),
  kinds: Schema.optional(Schema.Array(Schema.String))
})
export type Route = typeof Route.Type

export const RetrySettings = Schema.Struct({
  maxAttempts: Schema.optionalWith(retryFields.maxAttempts, { default: () => 5 }),
  baseMs: Schema.optionalWith(retryFields.baseMs, { default: () => 10_000 }),
  factor: Schema.optionalWith(retryFields.factor, { default: () => 2 }),
  capMs: Schema.optionalWith(retryFields.capMs, { default: () => 3_600_000 }),
  maxRescues: Schema.optionalWith(retryFields.maxRescues, { default: () => 3 })
}).pipe(Schema.filter((r) => r.capMs >= r.baseMs || { path: ["capMs"], message: "must be at least baseMs" }))
export type RetrySettings = typeof RetrySettings.Type

/** The retry policy in force for one sink: its own `retry` fields over the global ones. */
export const retryOf = (
  settings: { readonly retry: RetrySettings; readonly sinks: Readonly<Record<string, { readonly retry?: SinkRetrySettings | undefined }>> },
  sink: string
): RetrySettings => {
  const own = settings.sinks[sink]?.retry
  return own === undefined ? settings.retry : {
    maxAttempts: own.maxAttempts ?? settings.retry.maxAttempts,
    baseMs: own.baseMs ?? settings.retry.baseMs,
    factor: own.factor ?? settings.retry.factor,
    capMs: own.capMs ?? settings.retry.capMs,
    maxRescues: own.maxRescues ?? settings.retry.maxRescues
  }
}

/**
 * Services that send to Herald. `github.secret` is the webhook secret GitHub signs its deliveries
 * with (X-Hub-Signature-256); without it the GitHub intake takes nothing.
 */
export const Integrations = Schema.Struct({
  github: Schema.optional(Schema.Struct({
    secret: Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty: GitHub signs with a non-empty secret" }))
  }))
})
export type Integrations = typeof Integrations.Type

export const Settings = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  sinks: Schema.optionalWith(Schema.Record({ key: SinkName, value: SinkConfig }), { default: () => ({}) }),
  routes: Schema.optionalWith(Schema.Array(Route), { default: () => [] }),
  retry: Schema.optionalWith(RetrySettings, { default: () => Schema.decodeUnknownSync(RetrySettings)({}) }),
  leaseMs: Schema.optionalWith(Schema.Int.pipe(Schema.between(1_000, 3_600_000)), { default: () => 30_000 }),
  integrations: Schema.optionalWith(Integrations, { default: () => ({}) })
}).pipe(
  // A sink's own baseMs or capMs is checked against the other as they combine with the global ones.
  Schema.filter((s) => {
    for (const name of Object.keys(s.sinks)) {
      const own = s.sinks[name]!.retry
      if (own === undefined) continue
      const r = retryOf(s, name)
      if (r.capMs < r.baseMs) {
        return { path: ["sinks", name, "retry", own.capMs !== undefined ? "capMs" : "baseMs"], message: own.capMs !== undefined ? "must be at least baseMs" : "must be at most capMs" }
      }
    }
    return true
  })
)
export type Settings = typeof Settings.Type
export type SettingsInput = typeof Settings.Encoded

/** The sink `name` of the settings, or undefined: only the document's own keys are sinks (a name such as `constructor` is not). */
export const sinkNamed = (settings: Settings, name: string): SinkConfig | undefined =>
  Object.hasOwn(settings.sinks, name) ? settings.sinks[name] : undefined

/** What a fresh database starts with: one `log` sink to stdout, routed from `low`. */
export const defaultSettings: Settings = Schema.decodeUnknownSync(Settings)({
  enabled: true,
  sinks: { stdout: { type: "log" } },
  routes: [{ sink: "stdout", minPriority: "low" }]
})
