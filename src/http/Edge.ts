/**
 * The edge every request passes: draining (503), the body limit (413, before the body is
 * read when Content-Length says so), and the failures no endpoint declares turned into
 * problem+json: bad path/query/body (400), unknown route (404), a full disk or storage trouble
 * (503), bugs (500). The body's type and depth are judged after the token, by JsonBody.
 */
import { HttpApiBuilder, type HttpApp, HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import * as FileSystem from "@effect/platform/FileSystem"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import { Cause, Effect, Option } from "effect"
import { type DecodeIssue, tidyIssues } from "../domain/issues.js"
import { Draining } from "./Draining.js"
import { HttpOptions } from "./HttpOptions.js"
import { Metrics } from "./Metrics.js"
import { storageProblem } from "./handlers/storage.js"
import { declaredTags, problemBody, respond } from "./Problem.js"

const tagOf = (u: unknown) => (typeof u === "object" && u !== null && "_tag" in u ? String(u._tag) : undefined)

/** An undeclared failure or a defect as a problem response; undefined when the encoder should handle it. */
const problemOf = (cause: Cause.Cause<unknown>, limitBytes: number): HttpServerResponse.HttpServerResponse | undefined => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    const tag = tagOf(e)
    if (tag === "HttpApiDecodeError") {
      const issues = tidyIssues((e as { issues: ReadonlyArray<DecodeIssue> }).issues)
      const detail = `invalid request: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`
      return respond(problemBody(400, "Invalid input", "InvalidInput", detail, { issues }))
    }
    if (tag === "RouteNotFound") return respond(problemBody(404, "Not found", "NotFound", "no such endpoint; see /docs"))
    if (tag !== undefined && declaredTags.has(tag)) return undefined
  }
  const defect = Option.getOrElse(Cause.dieOption(cause), () => Option.getOrUndefined(failure))
  if (tagOf(defect) === "RequestError") {
    const inner = (defect as { cause?: unknown }).cause
    if (inner instanceof Error && inner.message === "maxBytes exceeded") {
      return respond(problemBody(413, "Payload too large", "PayloadTooLarge", `the request body is larger than ${limitBytes} bytes`, { limitBytes }), { connection: "close" })
    }
    if (inner instanceof SyntaxError) {
      // JSON.parse's message quotes the text around the fault, secrets and all: keep its position only.
      const at = /at position (\d+)/.exec(inner.message)
      return respond(problemBody(400, "Invalid input", "InvalidInput", `the body is not valid JSON${at === null ? "" : ` (at position ${at[1]})`}`))
    }
  }
  if (tagOf(defect) === "SqlError") return storageProblem(defect)
  return respond(problemBody(500, "Internal error", "InternalError", "an unexpected error; it was logged"))
}

const exempt = (url: string) => url.startsWith("/healthz") || url.startsWith("/readyz")

export const EdgeLive = HttpApiBuilder.middleware(Effect.gen(function* () {
  const options = yield* HttpOptions
  const draining = yield* Draining
  const limit = Option.some(FileSystem.Size(options.maxBodyBytes))
  return (app) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (!exempt(request.url) && (yield* draining.isDraining)) {
        return respond(problemBody(503, "Shutting down", "NotReady", "the server is shutting down; retry against another instance or later"), { "retry-after": "5", connection: "close" })
      }
      if (Number(request.headers["content-length"] ?? 0) > options.maxBodyBytes) {
        return respond(problemBody(413, "Payload too large", "PayloadTooLarge", `the request body is larger than ${options.maxBodyBytes} bytes`, { limitBytes: options.maxBodyBytes }), { connection: "close" })
      }
      return yield* app.pipe(
        IncomingMessage.withMaxBodySize(limit),
        Effect.catchAllCause((cause) => {
          if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
          const response = problemOf(cause, options.maxBodyBytes)
          if (response === undefined) return Effect.failCause(cause)
          return response.status >= 500 ? Effect.as(Effect.logError("request failed", cause), response) : Effect.succeed(response)
        })
      )
    }).pipe(draining.track) as typeof app
}))

/** Counts every answered request by method and final status (after error encoding). */
export const countRequests = (app: HttpApp.Default): HttpApp.Default<never, Metrics> =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const request = yield* HttpServerRequest.HttpServerRequest
    const response = yield* app
    metrics.countRequest(request.method, response.status)
    return response
  }) as HttpApp.Default<never, Metrics>
