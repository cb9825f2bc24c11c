/**
 * The SettingsStore's engine-independent half: validation, the in-memory cache, reload and the
 * defaults written on a fresh database. Each engine hands in its three small row operations
 * (src/store/sqlite/SettingsStore.ts, src/store/pg/SettingsStore.ts); the SQL is theirs.
 */
import { Clock, Effect, Option, Ref, Schema } from "effect"
import { decodeInput, issuesOf } from "../../domain/decode.js"
import { InvalidInput, StoredSettingsInvalid } from "../../domain/errors.js"
import { webhookSecretIssues } from "../../domain/webhookSecret.js"
import { defaultSettings, Settings } from "../../domain/Settings.js"
import { logPathIssues } from "../../sinks/logPath.js"
import { RuntimeConfig } from "../../runtime/RuntimeConfig.js"
import type { SqlError } from "../errors.js"
import { Writer } from "../Writer.js"
import type { SettingsStoreShape } from "../SettingsStore.js"

/** The stored row, its document as JSON text whatever the column's type. */
export interface SettingsRow {
  readonly document: string
  readonly version: number
}

/** One engine's statements on the `settings` row (id = 1). */
export interface SettingsRows {
  /** The row, if there is one. */
  readonly load: Effect.Effect<Option.Option<SettingsRow>, SqlError>
  /** Inside the writer's transaction: stores `document` as version 1 unless a row is there. */
  readonly insertIfAbsent: (document: string, now: number) => Effect.Effect<void, SqlError>
  /** Inside the writer's transaction: replaces the document; the row's new version. */
  readonly writeNext: (document: string, now: number) => Effect.Effect<number, SqlError>
}

const decodeSettings = decodeInput(Settings, "settings")

const encodeSettings = (settings: Settings) => JSON.stringify(Schema.encodeSync(Settings)(settings))

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

/** The SettingsStore over `rows`: writes the defaults on a fresh database, then loads the row. */
export const makeSettingsStore = (rows: SettingsRows) =>
  Effect.gen(function* () {
    const writer = yield* Writer
    const runtime = yield* RuntimeConfig

    const load = Effect.gen(function* () {
      const row = yield* rows.load
      if (Option.isNone(row)) return { settings: defaultSettings, version: 0 }
      return { settings: yield* decodeStored(row.value.document), version: row.value.version }
    })

    // A fresh database gets the defaults of DESIGN.md, written once.
    yield* writer.transaction(Effect.flatMap(Clock.currentTimeMillis, (now) => rows.insertIfAbsent(encodeSettings(defaultSettings), now))).pipe(
      Effect.orDie
    )

    // A document that does not decode stops the start with its paths (StoredSettingsInvalid).
    const cache = yield* Ref.make(yield* load)

    const get = Ref.get(cache).pipe(Effect.map((c) => c.settings))
    const current = Ref.get(cache)

    const reload = Effect.fn("SettingsStore.reload")(function* () {
      yield* Ref.set(cache, yield* load)
    })

    const put = Effect.fn("SettingsStore.put")(function* (input: unknown) {
      const settings = yield* decodeSettings(input)
      // Checked on a change only: a stored document must always load, so these are not in the
      // Schema (a sink that breaks them fails its deliveries for good instead).
      const issues = [...webhookSecretIssues(settings.sinks), ...logPathIssues(runtime.logDir, settings.sinks)]
      if (issues.length > 0) return yield* new InvalidInput({ what: "settings", issues })
      const version = yield* writer.transaction(Effect.flatMap(Clock.currentTimeMillis, (now) => rows.writeNext(encodeSettings(settings), now)))
      yield* Ref.set(cache, { settings, version })
      return settings
    })

    return { get, current, put, reload } satisfies SettingsStoreShape
  })
