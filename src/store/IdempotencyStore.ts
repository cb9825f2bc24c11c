/** `idempotency_keys`: each Idempotency-Key bound to the hash of the body it was first used with. */
import { Context, Effect } from "effect"
import type { SqlError } from "./errors.js"

export interface IdempotencyStoreShape {
  /** Binds `key` to `hash` unless it is bound already within `ttlMs` (an expired binding not pruned yet counts as gone); answers the binding in force, in one transaction. */
  readonly bind: (key: string, hash: string, ttlMs: number) => Effect.Effect<{ readonly hash: string; readonly boundAt: number } | undefined, SqlError>
  /** Deletes at most `limit` bindings older than `ttlMs`, in one short transaction; returns how many. */
  readonly pruneOlderThan: (ttlMs: number, limit: number) => Effect.Effect<number, SqlError, never>
}

export class IdempotencyStore extends Context.Tag("herald/IdempotencyStore")<IdempotencyStore, IdempotencyStoreShape>() {}
