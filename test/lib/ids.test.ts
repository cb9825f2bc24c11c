import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { makeId } from "../../src/lib/ids.js"

describe("ids", () => {
  it("strictly increase in one process whatever the clock does (same millisecond, steps back)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 2, maxLength: 200 }), (times) => {
        const ids = times.map((t) => makeId("dlv", t))
        for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true)
        for (const id of ids) expect(id).toMatch(/^dlv_[0-9A-HJKMNP-TV-Z]{26}$/)
      })
    )
  })

  it("carry the creation millisecond while the clock moves forward", () => {
    const base = Date.now() + 10 ** 9 // beyond any id made before in this process
    const decode = (id: string) => [...id.slice(4, 14)].reduce((n, c) => n * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(c), 0)
    expect(decode(makeId("ntf", base))).toBe(base)
    expect(decode(makeId("ntf", base + 5))).toBe(base + 5)
  })
})
