/**
 * The API bearer token: `HERALD_TOKEN`, or the one stored in `api_token` (generated on
 * first start, ApiTokenStore). Verification compares in constant time.
 */
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import { ApiTokenStore } from "../store/ApiTokenStore.js"
import { HttpOptions } from "./HttpOptions.js"

export interface ApiTokenShape {
  readonly token: Redacted.Redacted<string>
  /** `env`: HERALD_TOKEN; `generated`: created by this start (print it once); `stored`: read from the database. */
  readonly source: "env" | "generated" | "stored"
  /** True when `presented` is the token; time does not depend on where they differ. */
  readonly verify: (presented: string) => boolean
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest()

const make = (token: Redacted.Redacted<string>, source: ApiTokenShape["source"]): ApiTokenShape => {
  // Compare digests: equal lengths whatever was presented, so length leaks nothing either.
  const expected = digest(Redacted.value(token))
  return { token, source, verify: (presented) => timingSafeEqual(expected, digest(presented)) }
}

/** The stored token, if any (for `herald token`). */
export const readStoredToken = Effect.flatMap(ApiTokenStore, (store) => store.read)

const loadOrCreate = Effect.gen(function* () {
  const store = yield* ApiTokenStore
  const fresh = `hrld_${randomBytes(32).toString("base64url")}`
  if (yield* store.createIfAbsent(fresh)) return make(Redacted.make(fresh), "generated")
  const stored = yield* store.read
  return make(Redacted.make(Option.getOrThrow(stored)), "stored")
})

export class ApiToken extends Context.Tag("herald/http/ApiToken")<ApiToken, ApiTokenShape>() {
  static readonly layer = Layer.effect(
    ApiToken,
    Effect.gen(function* () {
      const options = yield* HttpOptions
      if (Option.isSome(options.token)) return make(options.token.value, "env")
      return yield* loadOrCreate
    })
  )
}
