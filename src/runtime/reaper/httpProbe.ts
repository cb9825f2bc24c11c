/**
 * The `http` probe: a GET of the runtime's URL. 2xx is alive; a refused connection, an unknown
 * host, 404 or 410 is gone; a timeout, a 5xx or anything else is unknown (the reaper never reaps
 * on doubt). Loaded on the first http probe, with a client of its own (no keep-alive: probes are
 * minutes apart, a pooled socket would only go stale).
 */
import type { HttpClientResponse } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Option, Stream } from "effect"
import type { Liveness, RuntimeRef } from "./Probes.js"

/** The Node error codes that say nothing is there: nobody listens on the port, or the name resolves to nothing. */
const goneCodes: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTFOUND"])

/** A probe's answer body is read only so the socket closes cleanly, within bounds. */
const drainLimit = 64 * 1_024
const drainWaitMs = 2_000

/** The Node error codes under the client's wrappers (an AggregateError holds one per address tried). */
const codesOf = (e: unknown): ReadonlyArray<string> => {
  let c = e
  for (let i = 0; i < 5 && typeof c === "object" && c !== null && "cause" in c && c.cause !== undefined; i++) c = c.cause
  if (c instanceof AggregateError && c.errors.length > 0) return c.errors.flatMap(codesOf)
  const code = (c as { code?: unknown } | null)?.code
  return typeof code === "string" ? [code] : []
}

const livenessOfStatus = (status: number): Liveness =>
  status >= 200 && status < 300 ? "alive" : status === 404 || status === 410 ? "gone" : "unknown"

const drain = (response: HttpClientResponse.HttpClientResponse) =>
  response.stream.pipe(
    Stream.runFoldWhile(0, (n) => n < drainLimit, (n, chunk) => n + chunk.length),
    Effect.timeout(drainWaitMs),
    Effect.ignore
  )

export const makeHttpProbe = (timeoutMs: number) =>
  Effect.gen(function* () {
    const agent = yield* NodeHttpClient.makeAgent({ keepAlive: false })
    const client = yield* Effect.provideService(NodeHttpClient.make, NodeHttpClient.HttpAgent, agent)
    return (runtime: RuntimeRef): Effect.Effect<Liveness> =>
      Effect.gen(function* () {
        const url = runtime["url"]
        if (typeof url !== "string" || !URL.canParse(url)) {
          yield* Effect.logWarning("an http runtime without a URL: liveness unknown").pipe(Effect.annotateLogs({ url: String(url) }))
          return "unknown"
        }
        const answer = yield* client.get(url).pipe(Effect.either, Effect.timeout(timeoutMs), Effect.option)
        if (Option.isNone(answer)) return "unknown" // no answer in time: busy or hung, not gone
        if (answer.value._tag === "Left") {
          const codes = codesOf(answer.value.left)
          if (codes.length > 0 && codes.every((c) => goneCodes.has(c))) return "gone"
          yield* Effect.logInfo("the http probe failed: liveness unknown").pipe(Effect.annotateLogs({ url, error: codes.join(",") || String(answer.value.left) }))
          return "unknown"
        }
        const response = answer.value.right
        yield* Effect.forkDaemon(drain(response))
        return livenessOfStatus(response.status)
      })
  })
