/**
 * ApiTokenStore in SQL that SQLite and PostgreSQL both run as written (one row, an upsert that
 * keeps the first token: of two processes storing one at once, one wins). Both engines use it.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer, Option } from "effect"
import { Writer } from "../Writer.js"
import { ApiTokenStore } from "../ApiTokenStore.js"

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const writer = yield* Writer

  /** The stored token, if any. */
  const read = Effect.map(sql<{ token: string }>`SELECT token FROM api_token WHERE id = 1`, (rows) => Option.fromNullable(rows[0]?.token))

  /** Stores `token` unless one is stored already; true when it was stored. */
  const createIfAbsent = (token: string) =>
    writer.transaction(Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql`INSERT INTO api_token (id, token, created_at) VALUES (1, ${token}, ${now})
                              ON CONFLICT (id) DO NOTHING RETURNING token`
      return rows.length > 0
    }))

  return { read, createIfAbsent } as const
})

/** ApiTokenStore on either engine. */
export const sqlApiTokenStore = Layer.effect(ApiTokenStore, make)
