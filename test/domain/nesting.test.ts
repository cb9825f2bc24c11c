import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { jsonTextExceeds, valueExceeds } from "../../src/domain/nesting.js"

/** The nesting depth by plain recursion: fine for the small values generated here. */
const depthOf = (v: unknown): number =>
  typeof v === "object" && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0

// Strings full of brackets, quotes and backslashes, so the scan must tell them from structure.
const tricky = fc.string({ unit: fc.constantFrom("[", "]", "{", "}", '"', "\\", "a", "\u0000", "\u2028") })
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", maxDepth: 7 },
    tricky, fc.integer(), fc.boolean(), fc.constant(null),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(tricky, tie("value"), { maxKeys: 3 }))
})).value

describe("nesting", () => {
  it("the text scan and the value walk agree with a recursive count, at every limit", () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 9 }), (v, limit) => {
        const deeper = depthOf(v) > limit
        expect(jsonTextExceeds(JSON.stringify(v), limit)).toBe(deeper)
        expect(valueExceeds(v, limit) !== undefined).toBe(deeper)
      }),
      { numRuns: 2_000 }
    )
  })

  it("the value walk names the top-level key the too-deep value is under", () => {
    expect(valueExceeds({ a: 1, b: { c: { d: {} } } }, 3)).toBe("b")
    expect(valueExceeds({ a: 1, b: { c: { d: {} } } }, 4)).toBeUndefined()
    expect(valueExceeds([[[]]], 2)).toBe("0")
    expect(valueExceeds([], 0)).toBe("")
  })

  it("a million levels, a cycle or a structure shared 2^60 ways are measured without overflowing the stack or hanging", () => {
    expect(jsonTextExceeds("[".repeat(1_000_000) + "]".repeat(1_000_000), 100)).toBe(true)
    let deep: unknown = 1
    for (let i = 0; i < 1_000_000; i++) deep = { a: deep }
    expect(valueExceeds({ payload: deep }, 100)).toBe("payload")
    const cycle: Record<string, unknown> = {}
    cycle["self"] = cycle
    expect(valueExceeds({ payload: cycle }, 100)).toBe("payload")
    let shared: unknown = {}
    for (let i = 0; i < 60; i++) shared = { left: shared, right: shared }
    expect(valueExceeds(shared, 100)).toBeUndefined()
    expect(valueExceeds(shared, 50)).toBe("left")
  })
})
