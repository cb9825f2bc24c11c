/**
 * The SettingsStore contract, for every engine: the defaults written once on a fresh database,
 * a put validated whole before it writes, the cache, and reload of another process's write.
 */
import { SqlClient } from "@effect/sql"
import { expect, it } from "@effect/vitest"
import { Context, Effect, Layer, type Scope } from "effect"
import { defaultSettings } from "../../../src/domain/Settings.js"
import { SettingsStore } from "../../../src/store/SettingsStore.js"
import { memorySettings } from "../../support/herald.js"
import type { Storage } from "./engines.js"

/** The stored row, read behind the store's back. */
const storedRows = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ version: number }>`SELECT version FROM settings`)

/** Writes `document` into the row as another process would. */
const writeBehind = (document: unknown) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`UPDATE settings SET document = ${JSON.stringify(document)}, version = version + 1, updated_at = updated_at + 1 WHERE id = 1`)

/** Registers the cases on `storage` with `settings` built on it (fresh for each test). */
export const settingsStoreContract = <R>(storage: Layer.Layer<Storage | R, unknown>, settings: Layer.Layer<SettingsStore, unknown, Storage | R>) => {
  const run = <A, E>(body: Effect.Effect<A, E, SettingsStore | Storage | R | Scope.Scope>) => body.pipe(Effect.provide(Layer.provideMerge(settings, storage)))
  /** A second store on the same database: another process starting. */
  const another = Effect.map(Layer.build(settings), Context.get(SettingsStore))

  it.scoped("a fresh database gets the defaults, stored once as version 1, and a later start keeps them", () =>
    run(Effect.gen(function* () {
      const store = yield* SettingsStore
      expect(yield* store.current).toEqual({ settings: defaultSettings, version: 1 })
      expect(yield* storedRows).toEqual([{ version: 1 }])
      const second = yield* another
      expect(yield* second.current).toEqual({ settings: defaultSettings, version: 1 })
      expect(yield* storedRows).toEqual([{ version: 1 }])
    })))

  it.scoped("put stores the whole document as the next version, and a store started later loads it, not the defaults", () =>
    run(Effect.gen(function* () {
      const store = yield* SettingsStore
      const put = yield* store.put(memorySettings)
      expect(Object.keys(put.sinks)).toEqual(["mem"])
      expect(put.leaseMs).toBe(memorySettings.leaseMs)
      expect(yield* store.get).toEqual(put)
      expect((yield* store.current).version).toBe(2)
      expect(yield* storedRows).toEqual([{ version: 2 }])
      const second = yield* another
      expect(yield* second.current).toEqual({ settings: put, version: 2 })
    })))

  it.scoped("invalid input is InvalidInput naming the field, and writes nothing", () =>
    run(Effect.gen(function* () {
      const store = yield* SettingsStore
      const error = yield* Effect.flip(store.put({ sinks: { bad: { type: "webhook", url: 42 } } }))
      expect(error._tag).toBe("InvalidInput")
      expect(JSON.stringify(error)).toContain("sinks.bad")
      expect(yield* storedRows).toEqual([{ version: 1 }])
      expect(yield* store.current).toEqual({ settings: defaultSettings, version: 1 })
    })))

  it.scoped("get answers from memory: another process's write shows only after reload", () =>
    run(Effect.gen(function* () {
      const store = yield* SettingsStore
      yield* writeBehind({ ...memorySettings, leaseMs: 12_345 })
      expect(yield* store.current).toEqual({ settings: defaultSettings, version: 1 })
      yield* store.reload()
      const { settings, version } = yield* store.current
      expect(version).toBe(2)
      expect(settings.leaseMs).toBe(12_345)
      expect(Object.keys(settings.sinks)).toEqual(["mem"])
    })))

  it.scoped("a stored document that does not decode fails reload with its paths, and the one in force stays", () =>
    run(Effect.gen(function* () {
      const store = yield* SettingsStore
      yield* store.put(memorySettings)
      const before = yield* store.current
      yield* writeBehind({ sinks: { hook: { type: "webhook", url: "https://example.com/h", timeoutMs: "slow" } } })
      const error = yield* Effect.flip(store.reload())
      expect(error._tag).toBe("StoredSettingsInvalid")
      expect(error.message).toContain("sinks.hook.timeoutMs")
      expect(yield* store.current).toEqual(before)
    })))
}
