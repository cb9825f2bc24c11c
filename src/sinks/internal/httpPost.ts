/**
 * One POST of an HTTP sink and what its answer means for the delivery: a 2xx is delivered; any
 * other status is a SinkFailure `http_<status>` whose retryability the sink decides, carrying the
 * receiver's Retry-After; a refused or broken connection is retryable `connect_failed`; a
 * non-public address without `allowPrivateNetwork` is permanent `private_network`. At most 1 KiB
 * of an answer is read (for the error message); the rest is cut off with the connection.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
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

const answerLimit = 1_024

const privateNetwork = (host: string, address: string) =>
  new SinkFailure({ retryable: false, code: "private_network", message: new PrivateAddressError(host, address).message })

/** The innermost cause of a transport error, where Node puts the reason (ECONNREFUSED, a lookup error). */
const rootCause = (e: unknown): unknown => {
  let c = e
  for (let i = 0; i < 5 && typeof c === "object" && c !== null && "cause" in c && c.cause !== undefined; i++) c = c.cause
  return c
}

export const post = (clients: HttpClients, options: PostOptions) =>
  Effect.gen(function* () {
    const url = new URL(options.url)
    const host = url.hostname.replace(/^\[|\]$/g, "")
    // An IP literal is connected to without a lookup, so the guard checks it here.
    if (!options.allowPrivateNetwork && net.isIP(host) !== 0 && isPrivateAddress(host)) return yield* privateNetwork(host, host)
    const client = HttpClient.withScope(options.allowPrivateNetwork ? clients.any : clients.publicOnly)
    const request = HttpClientRequest.post(url).pipe(
      HttpClientRequest.setHeaders(options.headers),
      HttpClientRequest.bodyText(options.body, "application/json")
    )
    const answer = yield* Effect.scoped(Effect.gen(function* () {
      const response = yield* client.execute(request)
      const text = yield* response.stream.pipe(
        Stream.decodeText(),
        Stream.runFoldWhile("", (s) => s.length < answerLimit, (s, chunk) => s + chunk),
        Effect.orElseSucceed(() => "")
      )
      return { status: response.status, text: text.slice(0, answerLimit), retryAfter: response.headers["retry-after"] }
    })).pipe(
      Effect.catchAll((e) => {
        const cause = rootCause(e)
        if (cause instanceof PrivateAddressError) return privateNetwork(cause.host, cause.address)
        const reason = cause instanceof Error ? cause.message : String(cause)
        return e._tag === "RequestError"
          ? new SinkFailure({ retryable: true, code: "connect_failed", message: `could not reach ${url.host}: ${reason}` })
          : new SinkFailure({ retryable: true, code: "bad_response", message: `${url.host} answered something that is not HTTP: ${reason}` })
      })
    )
    if (answer.status >= 200 && answer.status < 300) return {}
    const now = yield* Clock.currentTimeMillis
    const retryAfterMs = parseRetryAfter(answer.retryAfter, now)
    const said = answer.text.trim().replace(/\s+/g, " ").slice(0, 200)
    return yield* new SinkFailure({
      retryable: options.retryable(answer),
      code: `http_${answer.status}`,
      message: `${url.host} answered ${answer.status}${said === "" ? "" : `: ${said}`}`,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {})
    })
  })
