import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import fc from "fast-check"
import { type AppliedMigration, checkHistory } from "../../../src/store/internal/migrationHistory.js"

const ids = Array.from({ length: 9 }, (_, i) => i + 1)
const file = (id: number) => ({ id, name: `m${id}`, sha256: `sha${id}` })
const pad = (id: number) => String(id).padStart(4, "0")

/** How an applied migration's row relates to this build's file of its number. */
const variant = fc.constantFrom("same", "unrecorded", "renamed", "edited", "edited-unrecorded")
const applied = (id: number, v: typeof variant extends fc.Arbitrary<infer V> ? V : never): AppliedMigration => ({
  id,
  name: v === "renamed" ? `other${id}` : `m${id}`,
  sha256: v === "unrecorded" || v === "edited-unrecorded" ? Option.none() : Option.some(v === "edited" ? "changed" : `sha${id}`)
})

describe("checkHistory", () => {
  it("for any build and applied list, it passes exactly when both run unbroken from 1 and every recorded file matches; else it names the first problem", () => {
    fc.assert(
      fc.property(fc.subarray(ids), fc.subarray(ids).chain((a) => fc.tuple(fc.constant(a), fc.array(variant, { minLength: a.length, maxLength: a.length }))), (build, [done, variants]) => {
        const rows = done.map((id, i) => applied(id, variants[i]!))
        const n = Math.max(0, ...build)
        const k = Math.max(0, ...done)
        const result = checkHistory(build.map(file), rows)
        if (k > n) {
          expect(Option.map(result, (e) => e._tag)).toEqual(Option.some("DatabaseTooNew"))
          return
        }
        const inBuild = new Set(build)
        const byId = new Map(done.map((id, i) => [id, variants[i]!]))
        const hole = (id: number) => !inBuild.has(id) || (!byId.has(id) && id < k)
        const changed = (id: number) => byId.get(id) === "renamed" || byId.get(id) === "edited"
        const first = ids.find((id) => id <= n && (hole(id) || changed(id)))
        if (first === undefined) {
          expect(result).toEqual(Option.none())
          return
        }
        expect(Option.isSome(result)).toBe(true)
        const error = Option.getOrThrow(result)
        expect(error._tag).toBe(hole(first) ? "MigrationMissing" : "MigrationChanged")
        expect("file" in error && error.file.startsWith(`${pad(first)}_`)).toBe(true)
      }),
      { numRuns: 500 }
    )
  })

  it.each([
    { build: [1, 2, 3, 4, 5], done: [1, 2, 4], named: "0003_m3.sql" },
    { build: [1, 2, 3, 4, 5], done: [2, 3], named: "0001_m1.sql" },
    { build: [1, 2, 4, 5], done: [1, 2, 3], named: "0003_m3.sql" },
    { build: [1, 2, 4, 5], done: [1, 2], named: "0003_*.sql" }
  ])("with files $build and applied $done, the hole named is $named", ({ build, done, named }) => {
    // A file the build lacks is named from the database when applied there, else by its number.
    const result = checkHistory(build.map(file), done.map((id) => applied(id, "same")))
    expect(Option.map(result, (e) => ("file" in e ? e.file : undefined))).toEqual(Option.some(named))
  })
})
