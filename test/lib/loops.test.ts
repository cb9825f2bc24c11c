import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { runForever } from "../../src/lib/loops.js"

describe("runForever", () => {
  it.effect("a loop goes on after a typed failure and after a defect, backing off in between", () =>
    Effect.gen(function* () {
      let runs = 0
      const iteration = Effect.suspend(() => {
        runs++
        if (runs === 2) return Effect.fail("storage busy")
        if (runs === 4) return Effect.die(new Error("a read turned into a defect"))
        return Effect.sleep("1 second")
      })
      const fiber = yield* Effect.fork(runForever(iteration, "test loop"))
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("1 second")
      // Twenty seconds of one-second iterations, less the two short backoffs.
      expect(runs).toBeGreaterThan(15)
      yield* Fiber.interrupt(fiber)
      const after = runs
      yield* TestClock.adjust("10 seconds")
      expect(runs).toBe(after)
    }))
})
