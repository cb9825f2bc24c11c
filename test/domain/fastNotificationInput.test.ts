import { describe, expect, it } from "@effect/vitest"
import { Either, Option, Schema } from "effect"
import fc from "fast-check"
import { issuesOf } from "../../src/domain/decode.js"
import { fastNotificationInput } from "../../src/domain/fastNotificationInput.js"
import { NotificationInput } from "../../src/domain/Notification.js"

const schemaDecode = Schema.decodeUnknownEither(NotificationInput, { errors: "all", onExcessProperty: "error" })

// Strings around every length limit, with NULs and lone surrogates, values of the wrong type, and undefined.
const text = fc.oneof(
  fc.string({ maxLength: 5 }),
  fc.string({ maxLength: 5, unit: fc.constantFrom("a", "\u0000", "\ud800", "\udfff", "\ud83d\ude00") }),
  fc.integer({ min: 195, max: 205 }).map((n) => "k".repeat(n)),
  fc.integer({ min: 995, max: 1_005 }).map((n) => "t".repeat(n))
)
const value = fc.oneof(text, fc.constantFrom(undefined, null, 1, true, "low", "normal", "urgent", "loud"), fc.array(fc.string(), { maxLength: 2 }))
const nested = (levels: number) => {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? { a: v } : [v]
  return v as object
}
const payload = fc.oneof(
  fc.object({ maxDepth: 2 }),
  fc.constantFrom(null, [], "x", new Date(0), Object.create(null) as object),
  // Around the depth limit (64 levels, the payload object itself the first).
  fc.integer({ min: 62, max: 66 }).map((n) => ({ deep: nested(n - 1) }))
)
// Mostly well-formed fields, so both the fast path and its refusals get exercised.
const field = (good: fc.Arbitrary<unknown>) => fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: value })
const good = fc.string({ minLength: 1, maxLength: 20 })
const input = fc.record(
  {
    kind: field(good),
    priority: field(fc.constantFrom("low", "normal", "high", "urgent")),
    title: field(good),
    body: field(fc.string({ maxLength: 20 })),
    payload: fc.oneof({ weight: 4, arbitrary: fc.object({ maxDepth: 2 }) }, { weight: 1, arbitrary: payload }),
    dedupeKey: field(good),
    projectId: field(good),
    sessionId: field(good),
    extra: value
  },
  { requiredKeys: [] }
)

describe("fastNotificationInput", () => {
  it("agrees with the Schema on every input it accepts, and accepts nothing the Schema refuses", () => {
    let accepted = 0
    fc.assert(
      fc.property(fc.oneof(input, fc.anything()), (x) => {
        const fast = fastNotificationInput(x)
        const slow = schemaDecode(x)
        if (fast === undefined) return
        accepted++
        expect(Either.isRight(slow)).toBe(true)
        expect(fast).toEqual(Either.getOrThrow(slow))
      }),
      { numRuns: 5_000 }
    )
    expect(accepted).toBeGreaterThan(50) // the fast path was exercised, not only the fallback
  })

  it("takes the ordinary input itself, with the Schema's defaults", () => {
    expect(fastNotificationInput({ kind: "ci.failed", title: "CI failed", payload: { pr: 7 } })).toEqual({
      kind: "ci.failed", priority: "normal", title: "CI failed", body: "", payload: { pr: 7 }
    })
    expect(fastNotificationInput({ kind: "k", title: "t", priority: "urgent", dedupeKey: "d", projectId: "p", sessionId: "s", body: "b" })).toEqual({
      kind: "k", priority: "urgent", title: "t", body: "b", payload: {}, dedupeKey: "d", projectId: "p", sessionId: "s"
    })
    expect(fastNotificationInput({ kind: "k", title: "t", colour: "red" })).toBeUndefined()
  })

  it("refuses a NUL or a lone surrogate in any text field, at that field, in the Schema and so in the fast path", () => {
    for (const field of ["kind", "title", "body", "dedupeKey", "projectId", "sessionId"]) {
      for (const [bad, says] of [["a\u0000b", "NUL"], ["a\ud800", "lone surrogate"], ["\udc00", "lone surrogate"]] as const) {
        const input = { kind: "k", title: "t", [field]: bad }
        expect(fastNotificationInput(input)).toBeUndefined()
        const issues = issuesOf(Either.getLeft(schemaDecode(input)).pipe(Option.getOrThrow))
        expect(issues.map((i) => [i.path, i.message.includes(says)])).toEqual([[field, true]])
      }
    }
    // A surrogate pair is one well-formed character.
    expect(fastNotificationInput({ kind: "\ud83d\ude00", title: "t" })).toMatchObject({ kind: "\ud83d\ude00" })
  })

  it("leaves a payload nested deeper than 64 levels to the Schema, which refuses it at the payload", () => {
    const at = (levels: number) => ({ kind: "k", title: "t", payload: { deep: nested(levels - 1) } })
    expect(fastNotificationInput(at(64))).toEqual(Either.getOrThrow(schemaDecode(at(64))))
    expect(fastNotificationInput(at(65))).toBeUndefined()
    const issues = issuesOf(Either.getLeft(schemaDecode(at(65))).pipe(Option.getOrThrow))
    expect(issues).toEqual([{ path: "payload", message: expect.stringContaining("deeper than 64 levels") }])
  })

  it("leaves symbol and non-enumerable keys, and a payload's own __proto__, to the Schema", () => {
    const withSymbol = { kind: "k", title: "t", [Symbol("s")]: 1 }
    const hidden = Object.defineProperty({ kind: "k", title: "t" }, "colour", { value: "red", enumerable: false })
    const proto = { kind: "k", title: "t", payload: JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as object }
    for (const input of [withSymbol, hidden, proto]) expect(fastNotificationInput(input)).toBeUndefined()
  })
})
