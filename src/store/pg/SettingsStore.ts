/**
 * SettingsStore on PostgreSQL: the row's statements; the store itself is
 * internal/settingsCache.ts. `document` is `json`: written as JSON text and read back as text,
 * so it decodes exactly as SQLite's does (a `json` value keeps the text as written).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { makeSettingsStore, type SettingsRow } from "../internal/settingsCache.js"
import { SettingsStore } from "../SettingsStore.js"

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* makeSettingsStore({
    load: Effect.map(sql<SettingsRow>`SELECT document::text AS document, version FROM settings WHERE id = 1`, (rows) => Option.fromNullable(rows[0])),
    insertIfAbsent: (document, now) =>
      sql`INSERT INTO settings (id, document, version, updated_at) VALUES (1, ${document}::json, 1, ${now})
          ON CONFLICT (id) DO NOTHING`.pipe(Effect.asVoid),
    writeNext: (document, now) =>
      Effect.map(sql<{ version: number }>`UPDATE settings SET document = ${document}::json, version = version + 1, updated_at = ${now}
                                          WHERE id = 1 RETURNING version`, (rows) => rows[0]!.version)
  })
})

/** SettingsStore on PostgreSQL. */
export const pgSettingsStore = Layer.effect(SettingsStore, make)
