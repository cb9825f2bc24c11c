/**
 * One POST of an HTTP sink and what its answer means for the delivery: a 2xx is delivered as soon
 * as its status line arrives; any other status is a SinkFailure `http_<status>` whose
 * retryability the sink decides, carrying the receiver's Retry-After; a refused or broken
 * connection is retryable `connect_failed`, an answer that is not HTTP retryable `bad_response`;
 * a non-public address without `allowPrivateNetwork` is permanent `private_network`.
 */
import { HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Clock, Effect, Stream } from "effect"
import * as net from "node:net"
import { SinkFailure } from "../../domain/Sink.js"
import type { HttpClients } from "./httpClients.js"
import { isPrivateAddress, PrivateAddressError } from "./privateNetwork.js"
import { parseRetryAfter } from "./retryAfter.js"

export interface HttpAnswer {
  readonly status: number
  /** The start of the answer's body (at most 1 KiB), for messages. */
  readonly text: string
}

export interface PostOptions {
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: string
  readonly allowPrivateNetwork: boolean
  /** Whether a non-2xx answer is worth another attempt. */
  readonly retryable: (answer: HttpAnswer) => boolean
}

/** How much of an error answer is read for its message, and for how long. */
const answerLimit = 1_024
const answerWaitMs = 2_000
/** A 2xx answer's body is drained in the background (so its connection is reused), within bounds. */
const drainLimit = 64 * 1_024
const drainWaitMs = 5_000

const privateNetwork = (host: string, address: string) =>
  new SinkFailure({ retryable: false, code: "private_network", message: new PrivateAddressError(host, address).message })

/** Reads at most `limit` characters of a body; the rest is cut off with the connection. */
const head = (response: HttpClientResponse.HttpClientResponse, limit: number) =>
  response.stream.pipe(
    Stream.decodeText(),
    Stream.runFoldWhile("", (s) => s.length < limit, (s, chunk) => s + chunk),
    Effect.map((s) => s.slice(0, limit))
  )

/** The error Node reported under the client's wrappers: the reason (ECONNREFUSED, a lookup error, a parse error). */
const rootCause = (e: unknown): unknown => {
  let c = e
  for (let i = 0; i < 5 && typeof c === "object" && c !== null && "cause" in c && c.cause !== undefined; i++) c = c.cause
  return c
}

/** Words for a Node network error: its message, else its code, else those of the attempts it aggregates. */
const describe = (cause: unknown): string => {
  if (cause instanceof AggregateError && cause.errors.length > 0) return [...new Set(cause.errors.map(describe))].join("; ")
  const e = cause as { message?: unknown; code?: unknown }
  if (typeof e?.message === "string" && e.message !== "") return e.message
  if (typeof e?.code === "string") return e.code
  return String(cause)
}

export const post = (clients: HttpClients, options: PostOptions) =>
  Effect.gen(function* () {
    const url = new URL(options.url)
    const host = url.hostname.replace(/^\[|\]$/g, "")
    // An IP literal is connected to without a lookup, so the guard checks it here.
    if (!options.allowPrivateNetwork && net.isIP(host) !== 0 && isPrivateAddress(host)) return yield* privateNetwork(host, host)
    const client = options.allowPrivateNetwork ? clients.any : clients.publicOnly
    // The URL goes as written: a URL object would have its query re-encoded, and a receiver that
    // checks a token in it would refuse every delivery.
    const request = HttpClientRequest.post(options.url).pipe(
      HttpClientRequest.setHeaders(options.headers),
      HttpClientRequest.bodyText(options.body, "application/json")
    )
    const response = yield* client.execute(request).pipe(
      Effect.catchAll((e) => {
        const cause = rootCause(e)
        if (cause instanceof PrivateAddressError) return privateNetwork(cause.host, cause.address)
        const code = (cause as { code?: unknown })?.code
        return typeof code === "string" && code.startsWith("HPE_")
          ? new SinkFailure({ retryable: true, code: "bad_response", message: `${url.host} answered something that is not HTTP: ${describe(cause)}` })
          : new SinkFailure({ retryable: true, code: "connect_failed", message: `could not reach ${url.host}: ${describe(cause)}` })
      })
    )
    if (response.status >= 200 && response.status < 300) {
      // Delivered now, whatever the body does; reading it to the end lets the connection be reused.
      yield* Effect.forkDaemon(head(response, drainLimit).pipe(Effect.timeout(drainWaitMs), Effect.ignore))
      return {}
    }
    const text = yield* head(response, answerLimit).pipe(Effect.timeout(answerWaitMs), Effect.orElseSucceed(() => ""))
    const now = yield* Clock.currentTimeMillis
    const retryAfterMs = parseRetryAfter(response.headers["retry-after"], now)
    const said = text.trim().replace(/\s+/g, " ").slice(0, 200)
    return yield* new SinkFailure({
      retryable: options.retryable({ status: response.status, text }),
      code: `http_${response.status}`,
      message: `${url.host} answered ${response.status}${said === "" ? "" : `: ${said}`}`,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {})
    })
  })
