/**
 * The IdempotencyStore contract, for every engine: a key binds to the first body's hash for
 * its time to live (a binding at exactly its age limit is expired), then may be bound afresh;
 * pruning takes the expired ones only, at most `limit` per call.
 */
import { SqlClient } from "@effect/sql"
import { expect, it } from "@effect/vitest"
import { Effect, Layer, type Scope, TestClock } from "effect"
import { IdempotencyStore } from "../../../src/store/IdempotencyStore.js"
import type { Storage } from "./engines.js"

const ttl = 60_000

const keys = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(sql<{ key: string }>`SELECT key FROM idempotency_keys ORDER BY key`, (rows) => rows.map((r) => r.key)))

/** Registers the cases on `storage` with `idempotency` built on it (fresh for each test, on the TestClock). */
export const idempotencyStoreContract = <R>(storage: Layer.Layer<Storage | R, unknown>, idempotency: Layer.Layer<IdempotencyStore, unknown, Storage | R>) => {
  const run = <A, E>(body: Effect.Effect<A, E, IdempotencyStore | Storage | R | Scope.Scope>) => body.pipe(Effect.provide(Layer.provideMerge(idempotency, storage)))

  it.scoped("a key binds to the first hash: a repeat within the time to live answers the first binding and changes nothing", () =>
    run(Effect.gen(function* () {
      const store = yield* IdempotencyStore
      yield* TestClock.setTime(1_000)
      expect(yield* store.bind("k", "h1", ttl)).toEqual({ hash: "h1", boundAt: 1_000 })
      yield* TestClock.adjust(ttl - 1)
      expect(yield* store.bind("k", "h2", ttl)).toEqual({ hash: "h1", boundAt: 1_000 })
      expect(yield* store.bind("k", "h1", ttl)).toEqual({ hash: "h1", boundAt: 1_000 })
      // Another key is its own binding.
      expect(yield* store.bind("other", "h2", ttl)).toEqual({ hash: "h2", boundAt: 1_000 + ttl - 1 })
    })))

  it.scoped("a binding that has reached its time to live counts as gone before it is pruned: the key binds afresh", () =>
    run(Effect.gen(function* () {
      const store = yield* IdempotencyStore
      yield* TestClock.setTime(1_000)
      yield* store.bind("k", "h1", ttl)
      yield* TestClock.adjust(ttl)
      expect(yield* store.bind("k", "h2", ttl)).toEqual({ hash: "h2", boundAt: 1_000 + ttl })
      yield* TestClock.adjust(1)
      expect(yield* store.bind("k", "h3", ttl)).toEqual({ hash: "h2", boundAt: 1_000 + ttl })
      expect(yield* keys).toEqual(["k"])
    })))

  it.scoped("pruneOlderThan deletes expired bindings only, at most `limit` a call, and answers how many", () =>
    run(Effect.gen(function* () {
      const store = yield* IdempotencyStore
      yield* TestClock.setTime(1_000)
      for (const k of ["a", "b", "c", "d", "e"]) yield* store.bind(k, `h-${k}`, ttl)
      yield* TestClock.adjust(10)
      yield* store.bind("young", "h-young", ttl)
      yield* TestClock.adjust(ttl - 10)
      expect(yield* store.pruneOlderThan(ttl, 3)).toBe(3)
      expect(yield* keys).toHaveLength(3)
      expect(yield* store.pruneOlderThan(ttl, 3)).toBe(2)
      expect(yield* store.pruneOlderThan(ttl, 3)).toBe(0)
      expect(yield* keys).toEqual(["young"])
      expect(yield* store.bind("young", "h-other", ttl)).toEqual({ hash: "h-young", boundAt: 1_010 })
    })))

  it.scoped("several binding one new key at once all answer the same binding, one of theirs", () =>
    run(Effect.gen(function* () {
      const store = yield* IdempotencyStore
      yield* TestClock.setTime(5_000)
      const hashes = ["h0", "h1", "h2", "h3", "h4"]
      const answers = yield* Effect.forEach(hashes, (h) => store.bind("k", h, ttl), { concurrency: "unbounded" })
      expect(new Set(answers.map((a) => a?.hash)).size).toBe(1)
      expect(hashes).toContain(answers[0]!.hash)
      expect(answers[0]!.boundAt).toBe(5_000)
    })))
}
