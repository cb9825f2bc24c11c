/**
 * The StorageHealth contract, for every engine: a freshly migrated database is at this build's
 * migration, writable, with room to grow.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Layer, Option, type Scope } from "effect"
import { StorageHealth } from "../../../src/store/StorageHealth.js"
import type { Storage } from "./engines.js"

/** Registers the cases on `storage` with `health` built on it (fresh for each test). */
export const storageHealthContract = <R>(storage: Layer.Layer<Storage | R, unknown>, health: Layer.Layer<StorageHealth, unknown, Storage | R>) => {
  const run = <A, E>(body: Effect.Effect<A, E, StorageHealth | Storage | R | Scope.Scope>) => body.pipe(Effect.provide(Layer.provideMerge(health, storage)))

  it.scoped("a freshly migrated database is writable, at the build's migration, and not full", () =>
    run(Effect.gen(function* () {
      const h = yield* StorageHealth
      // migrations 0001..0009 exist on both engines.
      expect(h.buildVersion).toBeGreaterThanOrEqual(9)
      const w = yield* h.writable
      expect(w.version).toBe(h.buildVersion)
      expect(w.pages.pageSize).toBeGreaterThan(0)
      expect(w.pages.full).toEqual(Option.none())
      expect(yield* h.fullness(w.pages)).toEqual(Option.none())
    })))
}
