import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { makeKeyedMutex } from "../../src/lib/KeyedMutex.js"

describe("KeyedMutex", () => {
  it.effect("one at a time per key in arrival order; another key does not wait", () =>
    Effect.gen(function* () {
      const withKey = yield* makeKeyedMutex
      const order: Array<string> = []
      const release = yield* Deferred.make<void>()
      const first = yield* Effect.fork(withKey("a", Effect.zipRight(Effect.sync(() => order.push("a1")), Deferred.await(release))))
      yield* Effect.yieldNow()
      const rest = yield* Effect.fork(Effect.all([
        withKey("a", Effect.sync(() => order.push("a2"))),
        withKey("a", Effect.sync(() => order.push("a3")))
      ], { concurrency: "unbounded" }))
      yield* withKey("b", Effect.sync(() => order.push("b1")))
      expect(order).toEqual(["a1", "b1"]) // b ran while a was held; a2 and a3 wait
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(rest)
      expect(order).toEqual(["a1", "b1", "a2", "a3"])
    }))
})
