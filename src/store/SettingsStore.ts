/**
 * The settings document (one stored row), validated whole on write, cached in memory and
 * reloaded when the change feed says another writer changed it. Secrets masking is the HTTP
 * edge's concern.
 */
import { Context, type Effect } from "effect"
import type { InvalidInput, StoredSettingsInvalid } from "../domain/errors.js"
import type { Settings } from "../domain/Settings.js"
import type { SqlError } from "./errors.js"

export interface SettingsStoreShape {
  /** The settings in force (from memory; no I/O). */
  readonly get: Effect.Effect<Settings>
  /** The settings in force and the version of the stored row they came from. */
  readonly current: Effect.Effect<{ readonly settings: Settings; readonly version: number }>
  /** Replaces the whole document. Invalid input is InvalidInput with field paths, and writes nothing. */
  readonly put: (input: unknown) => Effect.Effect<Settings, InvalidInput | SqlError>
  /** Re-reads the row, for changes made by another process. */
  readonly reload: () => Effect.Effect<void, StoredSettingsInvalid | SqlError>
}

export class SettingsStore extends Context.Tag("herald/SettingsStore")<SettingsStore, SettingsStoreShape>() {}
