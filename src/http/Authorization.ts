/** Bearer-token auth for every protected group: `Authorization: Bearer <token>`, checked in constant time. */
import { HttpApiMiddleware, HttpApiSecurity, HttpApp, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Redacted } from "effect"
import { ApiToken } from "./ApiToken.js"
import { Unauthorized } from "./errors.js"
import { UnauthorizedProblem } from "./Problem.js"

export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("herald/http/Authorization", {
  failure: UnauthorizedProblem,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

const challenge = HttpApp.appendPreResponseHandler((_request, response) =>
  Effect.succeed(HttpServerResponse.setHeader(response, "www-authenticate", 'Bearer realm="herald"')))

export const AuthorizationLive = Layer.effect(
  Authorization,
  Effect.gen(function* () {
    const token = yield* ApiToken
    return {
      bearer: (presented: Redacted.Redacted<string>) => {
        const value = Redacted.value(presented)
        if (value.length === 0) {
          return challenge.pipe(Effect.zipRight(new Unauthorized({ reason: "send the API token as 'Authorization: Bearer <token>'" })))
        }
        return token.verify(value)
          ? Effect.void
          : challenge.pipe(Effect.zipRight(new Unauthorized({ reason: "the bearer token is not valid" })))
      }
    }
  })
)
