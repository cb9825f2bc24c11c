/** IdempotencyStore on PostgreSQL: the implementation of src/store/IdempotencyStore.ts. */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer } from "effect"
import { Writer } from "../Writer.js"
import { IdempotencyStore } from "../IdempotencyStore.js"

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const writer = yield* Writer

  /**
   * Binds `key` to `hash` unless it is bound already within `ttlMs` (an expired binding not
   * pruned yet counts as gone); answers the binding in force, in one transaction. One
   * statement: the upsert's RETURNING gives a new or renewed binding; a live one it left alone
   * is read after it (READ COMMITTED: the later statement sees a binding a racing transaction
   * committed, which the conflict waited for).
   */
  const bind = (key: string, hash: string, ttlMs: number) =>
    writer.transaction(Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const written = yield* sql<{ hash: string; boundAt: number }>`
        INSERT INTO idempotency_keys (key, request_hash, created_at) VALUES (${key}, ${hash}, ${now})
        ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, created_at = excluded.created_at
        WHERE idempotency_keys.created_at <= ${now - ttlMs}
        RETURNING request_hash AS hash, created_at AS "boundAt"`
      if (written.length > 0) return written[0]
      const rows = yield* sql<{ hash: string; boundAt: number }>`
        SELECT request_hash AS hash, created_at AS "boundAt" FROM idempotency_keys WHERE key = ${key}`
      return rows[0]
    }))

  /** Deletes at most `limit` bindings older than `ttlMs`, in one short transaction; returns how many (idempotency_keys_created). */
  const pruneOlderThan = (ttlMs: number, limit: number) =>
    writer.transaction(Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const gone = yield* sql<{ key: string }>`
        DELETE FROM idempotency_keys WHERE key IN (
          SELECT key FROM idempotency_keys WHERE created_at <= ${now - ttlMs} LIMIT ${limit})
        RETURNING key`
      return gone.length
    }))

  return { bind, pruneOlderThan } as const
})

/** IdempotencyStore on PostgreSQL. */
export const pgIdempotencyStore = Layer.effect(IdempotencyStore, make)
