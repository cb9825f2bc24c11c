/**
 * Judges a request's body before its endpoint reads it: JSON only (415), nested at most
 * `maxInputDepth` levels (400). Every group declares it just before Authorization, and the
 * middleware declared last runs first: a request without the token is 401 whatever its body.
 */
import { HttpApiMiddleware, HttpMethod, HttpServerRequest } from "@effect/platform"
import { Effect, Layer, Schema } from "effect"
import { InvalidInput } from "../domain/errors.js"
import { jsonTextExceeds, maxInputDepth } from "../domain/nesting.js"
import { UnsupportedMediaType } from "./errors.js"
import { InvalidInputProblem, UnsupportedMediaTypeProblem } from "./Problem.js"

export class JsonBody extends HttpApiMiddleware.Tag<JsonBody>()("herald/http/JsonBody", {
  failure: Schema.Union(UnsupportedMediaTypeProblem, InvalidInputProblem)
}) {}

const tooDeep = new InvalidInput({
  what: "request body",
  issues: [{ path: "", message: `the body nests deeper than ${maxInputDepth} levels of arrays and objects` }]
})

export const JsonBodyLive = Layer.succeed(JsonBody, Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  if (!HttpMethod.hasBody(request.method)) return
  // A chunked body has no Content-Length: it counts as a body too.
  const hasBody = Number(request.headers["content-length"] ?? 0) > 0 || request.headers["transfer-encoding"] !== undefined
  const contentType = request.headers["content-type"]?.toLowerCase()
  // What the platform parses as JSON; anything else it would parse as a form or pass on as
  // bytes. A multipart form is refused even when empty: the platform writes its files to
  // disk, and waits for ever for the parts of an empty one.
  if (contentType !== undefined && !contentType.includes("application/json") && (hasBody || contentType.includes("multipart/"))) {
    return yield* new UnsupportedMediaType({ contentType: request.headers["content-type"]! })
  }
  if (!hasBody) return
  // The text is kept by the request: the endpoint's JSON.parse reads the same string. Over the
  // size limit it fails as a RequestError, which the edge answers 413.
  const text = yield* Effect.orDie(request.text)
  // Measured on the text: JSON.parse does not recurse, but what the endpoint does next might.
  if (jsonTextExceeds(text, maxInputDepth)) return yield* tooDeep
}))
