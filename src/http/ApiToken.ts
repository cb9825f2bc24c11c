/**
 * The API bearer token: `HERALD_TOKEN`, or the one stored in `api_token` (generated on
 * first start). Verification compares in constant time. SQL for `api_token` lives only here.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Context, Effect, Layer, Option, Redacted } from "effect"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import { Writer } from "../services/Writer.js"
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
export const readStoredToken = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ token: string }>`SELECT token FROM api_token WHERE id = 1`
  return Option.fromNullable(rows[0]?.token)
})

const loadOrCreate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const writer = yield* Writer
  const fresh = `hrld_${randomBytes(32).toString("base64url")}`
  const inserted = yield* writer.transaction(Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    return yield* sql<{ token: string }>`INSERT INTO api_token (id, token, created_at) VALUES (1, ${fresh}, ${now})
                                        ON CONFLICT (id) DO NOTHING RETURNING token`
  }))
  if (inserted.length > 0) return make(Redacted.make(fresh), "generated")
  const stored = yield* readStoredToken
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
