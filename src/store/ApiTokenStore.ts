/** The stored API token (`api_token`, one row): read it, or store a fresh one unless one is there. */
import { Context, Effect, Option } from "effect"
import type { SqlError } from "./errors.js"

export interface ApiTokenStoreShape {
  /** The stored token, if any. */
  readonly read: Effect.Effect<Option.Option<string>, SqlError, never>
  /** Stores `token` unless one is stored already; true when it was stored. */
  readonly createIfAbsent: (token: string) => Effect.Effect<boolean, SqlError, never>
}

export class ApiTokenStore extends Context.Tag("herald/ApiTokenStore")<ApiTokenStore, ApiTokenStoreShape>() {}
