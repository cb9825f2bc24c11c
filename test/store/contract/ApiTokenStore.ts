/** The ApiTokenStore contract, for every engine: one token, stored by the first to ask, kept after. */
import { expect, it } from "@effect/vitest"
import { Effect, Layer, Option, type Scope } from "effect"
import { ApiTokenStore } from "../../../src/store/ApiTokenStore.js"
import type { Storage } from "./engines.js"

const first = "tok_first_0123456789abcdef0123456789abcdef"
const second = "tok_second_0123456789abcdef0123456789abcdef"

/** Registers the cases on `storage` with `tokens` built on it (fresh for each test). */
export const apiTokenStoreContract = <R>(storage: Layer.Layer<Storage | R, unknown>, tokens: Layer.Layer<ApiTokenStore, unknown, Storage | R>) => {
  const run = <A, E>(body: Effect.Effect<A, E, ApiTokenStore | Storage | R | Scope.Scope>) => body.pipe(Effect.provide(Layer.provideMerge(tokens, storage)))

  it.scoped("a fresh database has no token; the first createIfAbsent stores it, a later one is refused and changes nothing", () =>
    run(Effect.gen(function* () {
      const store = yield* ApiTokenStore
      expect(yield* store.read).toEqual(Option.none())
      expect(yield* store.createIfAbsent(first)).toBe(true)
      expect(yield* store.read).toEqual(Option.some(first))
      expect(yield* store.createIfAbsent(second)).toBe(false)
      expect(yield* store.read).toEqual(Option.some(first))
    })))

  it.scoped("several asking at once: exactly one stores its token, and it is the one read", () =>
    run(Effect.gen(function* () {
      const store = yield* ApiTokenStore
      const candidates = Array.from({ length: 6 }, (_, i) => `tok_racer_${i}_0123456789abcdef0123456789abcdef`)
      const stored = yield* Effect.forEach(candidates, (t) => store.createIfAbsent(t), { concurrency: "unbounded" })
      expect(stored.filter((s) => s)).toHaveLength(1)
      expect(yield* store.read).toEqual(Option.some(candidates[stored.indexOf(true)]!))
    })))
}
