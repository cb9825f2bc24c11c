/** SettingsStore on SQLite: the implementation of src/store/SettingsStore.ts. */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer, Ref, Schema } from "effect"
import { decodeInput, issuesOf } from "../../domain/decode.js"
import { InvalidInput, StoredSettingsInvalid } from "../../domain/errors.js"
import { webhookSecretIssues } from "../../domain/webhookSecret.js"
import { defaultSettings, Settings } from "../../domain/Settings.js"
import { logPathIssues } from "../../sinks/logPath.js"
import { RuntimeConfig } from "../../runtime/RuntimeConfig.js"
import { Writer } from "../Writer.js"
import { SettingsStore } from "../SettingsStore.js"

const decodeSettings = decodeInput(Settings, "settings")

const encodeSettings = Schema.encodeSync(Settings)

const decodeDocument = Schema.decodeUnknown(Settings, { errors: "all" })

/**
 * The stored row as settings, or StoredSettingsInvalid naming paths only: a ParseError's own
 * message, and JSON.parse's (it quotes the text around the fault), would print the secrets.
 */
const decodeStored = (document: string): Effect.Effect<Settings, StoredSettingsInvalid> => {
  let json: unknown
  try {
    json = JSON.parse(document)
  } catch {
    return Effect.fail(new StoredSettingsInvalid({ issues: [{ path: "", message: "is not valid JSON" }] }))
  }
  return decodeDocument(json).pipe(Effect.mapError((e) => new StoredSettingsInvalid({ issues: issuesOf(e) })))
}

const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const writer = yield* Writer
  const runtime = yield* RuntimeConfig

  const load = Effect.gen(function* () {
    const rows = yield* sql<{ document: string; version: number }>`SELECT document, version FROM settings WHERE id = 1`
    if (rows.length === 0) return { settings: defaultSettings, version: 0 }
    const settings = yield* decodeStored(rows[0]!.document)
    return { settings, version: rows[0]!.version }
  })

  // A fresh database gets the defaults of DESIGN.md, written once.
  yield* writer.transaction(Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    yield* sql`INSERT INTO settings (id, document, version, updated_at)
               VALUES (1, ${JSON.stringify(encodeSettings(defaultSettings))}, 1, ${now})
               ON CONFLICT (id) DO NOTHING`
  })).pipe(Effect.orDie)

  // A document that does not decode stops the start with its paths (StoredSettingsInvalid).
  const cache = yield* Ref.make(yield* load)

  /** The settings in force (from memory; no I/O). */
  const get = Ref.get(cache).pipe(Effect.map((c) => c.settings))
  const current = Ref.get(cache)

  /** Re-reads the row, for changes made by another process. */
  const reload = Effect.fn("SettingsStore.reload")(function* () {
    yield* Ref.set(cache, yield* load)
  })

  /** Replaces the whole document. Invalid input is InvalidInput with field paths, and writes nothing. */
  const put = Effect.fn("SettingsStore.put")(function* (input: unknown) {
    const settings = yield* decodeSettings(input)
    // Checked on a change only: a stored document must always load, so these are not in the
    // Schema (a sink that breaks them fails its deliveries for good instead).
    const issues = [...webhookSecretIssues(settings.sinks), ...logPathIssues(runtime.logDir, settings.sinks)]
    if (issues.length > 0) return yield* new InvalidInput({ what: "settings", issues })
    const version = yield* writer.transaction(Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql<{ version: number }>`
        UPDATE settings SET document = ${JSON.stringify(encodeSettings(settings))},
               version = version + 1, updated_at = ${now}
        WHERE id = 1 RETURNING version`
      return rows[0]!.version
    }))
    yield* Ref.set(cache, { settings, version })
    return settings
  })

  return { get, current, put, reload } as const
})

/** SettingsStore on SQLite. */
export const sqliteSettingsStore = Layer.effect(SettingsStore, make)
