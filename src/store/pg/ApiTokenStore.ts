/** ApiTokenStore on PostgreSQL: the implementation of src/store/ApiTokenStore.ts. */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer, Option } from "effect"
import { Writer } from "../Writer.js"
import { ApiTokenStore } from "../ApiTokenStore.js"

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const writer = yield* Writer

  /** The stored token, if any. */
  const read = Effect.map(sql<{ token: string }>`SELECT token FROM api_token WHERE id = 1`, (rows) => Option.fromNullable(rows[0]?.token))

  /** Stores `token` unless one is stored already; true when it was stored (two processes at once: one wins). */
  const createIfAbsent = (token: string) =>
    writer.transaction(Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql`INSERT INTO api_token (id, token, created_at) VALUES (1, ${token}, ${now})
                              ON CONFLICT (id) DO NOTHING RETURNING token`
      return rows.length > 0
    }))

  return { read, createIfAbsent } as const
})

/** ApiTokenStore on PostgreSQL. */
export const pgApiTokenStore = Layer.effect(ApiTokenStore, make)
