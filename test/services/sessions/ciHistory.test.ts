import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { ciByCommit, failingStreak, type HistoricCheck } from "../../../src/services/sessions/ciHistory.js"

const done = (headSha: string, name: string, conclusion: HistoricCheck["conclusion"]): HistoricCheck => ({ headSha, name, status: "completed", conclusion })
const running = (headSha: string, name: string): HistoricCheck => ({ headSha, name, status: "in_progress", conclusion: null })

describe("CI history", () => {
  it("each head commit's CI: failed when any check failed, running while any is not done, passed when all are done and none failed", () => {
    expect(ciByCommit([
      done("a", "test", "failure"), done("a", "lint", "success"),
      done("b", "test", "success"), running("b", "lint"),
      done("c", "test", "success"), done("c", "lint", "skipped"),
      done("d", "test", "timed_out")
    ])).toEqual([
      { headSha: "a", ci: "failed" }, { headSha: "b", ci: "running" }, { headSha: "c", ci: "passed" }, { headSha: "d", ci: "failed" }
    ])
  })

  it("the failing streak counts failed commits across commits, and a green commit resets it", () => {
    expect(failingStreak([])).toBe(0)
    expect(failingStreak([done("a", "t", "failure"), done("b", "t", "failure"), running("c", "t"), done("d", "t", "cancelled")])).toBe(3)
    expect(failingStreak([done("a", "t", "failure"), done("b", "t", "success"), done("c", "t", "failure")])).toBe(1)
    expect(failingStreak([done("a", "t", "failure"), done("b", "t", "success")])).toBe(0)
  })

  it("for any history, the streak is the number of failed commits after the last passed one", () => {
    const conclusion = fc.constantFrom("success", "failure", "cancelled", "skipped", "timed_out", "neutral", "action_required") as fc.Arbitrary<NonNullable<HistoricCheck["conclusion"]>>
    const check = fc.record({ headSha: fc.constantFrom("a", "b", "c", "d", "e"), name: fc.constantFrom("t", "l") }).chain(({ headSha, name }) =>
      fc.oneof(conclusion.map((c) => done(headSha, name, c)), fc.constant(running(headSha, name))))
    fc.assert(fc.property(fc.array(check, { maxLength: 30 }), (checks) => {
      const commits = ciByCommit(checks)
      const lastGreen = commits.map((c) => c.ci).lastIndexOf("passed")
      const expected = commits.slice(lastGreen + 1).filter((c) => c.ci === "failed").length
      expect(failingStreak(checks)).toBe(expected)
      expect(failingStreak(checks)).toBeLessThanOrEqual(commits.length)
    }))
  })
})
