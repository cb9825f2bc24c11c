import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import fc from "fast-check"
import { type CheckObservation, PrObservation } from "../../../src/domain/Session.js"
import { githubFactOf, supportedGithubEvents } from "../../../src/services/github/events.js"
import type { PrFact } from "../../../src/services/github/fact.js"
import { mergeFact } from "../../../src/services/github/merge.js"
import { exampleOf, examplesOf } from "./examples.js"

const url = "https://github.com/Codertocat/Hello-World/pull/2"
const match = { urls: [url], headBranch: "changes", repository: "Codertocat/Hello-World" }
const build: CheckObservation = { name: "build", status: "completed", conclusion: "success" }
const lint: CheckObservation = { name: "lint", status: "in_progress" }

const stored: PrObservation = {
  url, number: 2, state: "open", reviewDecision: "review_required", mergeability: "mergeable",
  headSha: "aaaa", headBranch: "changes", checks: [build, lint],
  comments: [{ id: "1", author: "octocat", body: "an old comment" }]
}

const factOf = (eventName: string, payload: unknown): PrFact => {
  const result = githubFactOf(eventName, payload)
  if (result._tag !== "Fact") throw new Error(`expected a Fact, got ${JSON.stringify(result)}`)
  return result.fact
}

describe("mergeFact", () => {
  it("upserts a check by name at the same head, keeping the others and their order", () => {
    const lintFailed: CheckObservation = { name: "lint", status: "completed", conclusion: "failure" }
    const merged = mergeFact(stored, { match, headSha: "aaaa", checks: [lintFailed, { name: "test", status: "queued" }] }, url)
    expect(merged).toEqual({ ...stored, checks: [build, lintFailed, { name: "test", status: "queued" }], comments: [] })
  })

  it("a new head commit drops the old commit's checks", () => {
    const merged = mergeFact(stored, { match, headSha: "bbbb", checks: [lint] }, url)
    expect(merged).toMatchObject({ headSha: "bbbb", checks: [lint] })
  })

  it("a synchronize event (new head, no checks) leaves no checks at all", () => {
    const payload = exampleOf("pull_request", (p) => p.action === "synchronize")
    const merged = mergeFact(stored, factOf("pull_request", payload), url)
    expect(merged).toMatchObject({ headSha: payload.pull_request.head.sha, checks: [] })
  })

  it("keeps what the event does not say and takes what it does", () => {
    const merged = mergeFact(stored, { match, state: "merged", reviewDecision: "approved" }, url)
    expect(merged).toEqual({ ...stored, state: "merged", reviewDecision: "approved", comments: [] })
  })

  it("comments are only the event's new ones, never the stored ones again", () => {
    const comment = { id: "2", author: "hubot", body: "new" }
    expect(mergeFact(stored, { match, comments: [comment] }, url)).toMatchObject({ comments: [comment] })
    expect(mergeFact(stored, { match }, url)).toMatchObject({ comments: [] })
  })

  it("a PR never seen takes its number, state and head from a pull_request event", () => {
    const payload = exampleOf("pull_request", (p) => p.action === "opened")
    expect(mergeFact(undefined, factOf("pull_request", payload), url)).toEqual({
      url, number: 2, state: "open", mergeability: "unknown",
      headSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", headBranch: "changes", checks: [], comments: []
    })
  })

  it("a PR never seen is Incomplete from a check event, which says no state", () => {
    const fact = factOf("check_run", exampleOf("check_run", (p) => p.check_run.conclusion === "failure"))
    expect(mergeFact(undefined, fact, url)).toEqual({ _tag: "Incomplete", missing: ["state"] })
  })

  it("Incomplete lists every missing field", () => {
    expect(mergeFact(undefined, { match }, url)).toEqual({ _tag: "Incomplete", missing: ["number", "state", "headSha"] })
    expect(mergeFact(undefined, { match, number: 3 }, url)).toEqual({ _tag: "Incomplete", missing: ["state", "headSha"] })
  })

  it("what it builds from any published example is an observation the session API accepts", () => {
    const isObservation = Schema.is(PrObservation)
    for (const eventName of supportedGithubEvents) {
      for (const { label, payload } of examplesOf(eventName)) {
        const result = githubFactOf(eventName, payload)
        if (result._tag !== "Fact") continue
        for (const before of [undefined, stored]) {
          const merged = mergeFact(before, result.fact, url)
          if ("_tag" in merged) continue
          expect(isObservation(merged), label).toBe(true)
        }
      }
    }
  })

  it("for any sequence of check updates at one head, each name is there once, with its last update", () => {
    const check = fc.record({ name: fc.constantFrom("a", "b", "c", "d"), status: fc.constantFrom("queued" as const, "in_progress" as const) })
    fc.assert(fc.property(fc.array(fc.array(check, { maxLength: 3 }), { maxLength: 8 }), (batches) => {
      let pr: PrObservation = { ...stored, checks: [] }
      for (const checks of batches) {
        const merged = mergeFact(pr, { match, headSha: pr.headSha, checks }, url)
        if ("_tag" in merged) throw new Error("a stored PR is never Incomplete")
        pr = merged
      }
      const last = new Map<string, CheckObservation>(batches.flat().map((c) => [c.name, c] as const))
      expect(pr.checks.map((c) => c.name).sort()).toEqual([...last.keys()].sort())
      for (const c of pr.checks) expect(c).toEqual(last.get(c.name))
    }))
  })
})
