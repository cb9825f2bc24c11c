import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import fc from "fast-check"
import { CheckObservation, CommentObservation } from "../../../src/domain/Session.js"
import { githubFactOf, supportedGithubEvents } from "../../../src/services/github/events.js"
import type { GithubFact, PrFact } from "../../../src/services/github/fact.js"
import { exampleOf, examplesOf } from "./examples.js"

const pr2 = "https://github.com/Codertocat/Hello-World/pull/2"
const sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"

const factOf = (result: GithubFact): PrFact => {
  if (result._tag !== "Fact") throw new Error(`expected a Fact, got ${JSON.stringify(result)}`)
  return result.fact
}

const isCheck = Schema.is(CheckObservation)
const isComment = Schema.is(CommentObservation)

/** What every result must be: one of the three, and a Fact's checks and comments storable. */
const expectWellFormed = (result: GithubFact) => {
  expect(["Fact", "Ignored", "Invalid"]).toContain(result._tag)
  if (result._tag === "Ignored") expect(result.reason.length).toBeGreaterThan(0)
  if (result._tag === "Invalid") expect(result.message.length).toBeGreaterThan(0)
  if (result._tag === "Fact") {
    for (const c of result.fact.checks ?? []) expect(isCheck(c)).toBe(true)
    for (const c of result.fact.comments ?? []) expect(isComment(c)).toBe(true)
  }
}

describe("githubFactOf on every published example", () => {
  for (const eventName of supportedGithubEvents) {
    it(`maps every ${eventName} example to a Fact, Ignored or Invalid without throwing`, () => {
      const examples = examplesOf(eventName)
      expect(examples.length).toBeGreaterThan(0)
      for (const { label, payload } of examples) {
        const result = githubFactOf(eventName, payload)
        expectWellFormed(result)
        // The published examples are real bodies: none of them is malformed.
        expect(result._tag, label).not.toBe("Invalid")
      }
    })
  }

  it("ignores ping and push, naming the event", () => {
    for (const eventName of ["ping", "push"]) {
      for (const { payload } of examplesOf(eventName)) {
        const result = githubFactOf(eventName, payload)
        expect(result).toEqual({ _tag: "Ignored", reason: expect.stringContaining(eventName) })
      }
    }
  })
})

describe("pull_request", () => {
  it("an opened PR gives its URL, number, open state, head and an unknown mergeability (mergeable null)", () => {
    const fact = factOf(githubFactOf("pull_request", exampleOf("pull_request", (p) => p.action === "opened")))
    expect(fact).toEqual({
      match: { urls: [pr2], headBranch: "changes", repository: "Codertocat/Hello-World" },
      number: 2, state: "open", mergeability: "unknown", headSha: sha, headBranch: "changes"
    })
  })

  it("every action carries the PR's state, so each is a Fact", () => {
    for (const { label, payload } of examplesOf("pull_request")) {
      expect(githubFactOf("pull_request", payload)._tag, label).toBe("Fact")
    }
  })

  it("a PR closed without merging is closed, and mergeable true is mergeable", () => {
    const fact = factOf(githubFactOf("pull_request", exampleOf("pull_request", (p) => p.action === "closed")))
    expect(fact.state).toBe("closed")
    expect(fact.mergeability).toBe("mergeable")
  })

  it("a closed PR with merged true is merged", () => {
    // No published example is a merge: the real closed one, with merged set as a merge sends it.
    const payload = exampleOf("pull_request", (p) => p.action === "closed")
    payload.pull_request.merged = true
    payload.pull_request.merged_at = "2019-05-15T15:20:40Z"
    expect(factOf(githubFactOf("pull_request", payload)).state).toBe("merged")
  })

  it("mergeable false is conflicting", () => {
    const payload = exampleOf("pull_request", (p) => p.action === "synchronize")
    payload.pull_request.mergeable = false
    expect(factOf(githubFactOf("pull_request", payload)).mergeability).toBe("conflicting")
  })

  it("a body without the head commit is Invalid at that field, not a throw", () => {
    const payload = exampleOf("pull_request", (p) => p.action === "opened")
    delete payload.pull_request.head.sha
    expect(githubFactOf("pull_request", payload)).toEqual({ _tag: "Invalid", path: "pull_request.head.sha", message: expect.any(String) })
  })
})

describe("pull_request_review", () => {
  it("a submitted comment-only review without a body gives the PR's state and no decision or comment", () => {
    const fact = factOf(githubFactOf("pull_request_review", exampleOf("pull_request_review", (p) => p.action === "submitted")))
    expect(fact).toEqual({
      match: { urls: [pr2], headBranch: "changes", repository: "Codertocat/Hello-World" },
      number: 2, state: "open", headSha: sha, headBranch: "changes"
    })
  })

  it("an approving review gives reviewDecision approved", () => {
    // The published reviews are all "commented": the real one, as an approval is sent.
    const payload = exampleOf("pull_request_review", (p) => p.action === "submitted")
    payload.review.state = "approved"
    expect(factOf(githubFactOf("pull_request_review", payload)).reviewDecision).toBe("approved")
  })

  it("a review requesting changes gives that decision, and its body is a comment", () => {
    const payload = exampleOf("pull_request_review", (p) => p.action === "submitted")
    payload.review.state = "changes_requested"
    payload.review.body = "Please add a test."
    const fact = factOf(githubFactOf("pull_request_review", payload))
    expect(fact.reviewDecision).toBe("changes_requested")
    expect(fact.comments).toEqual([{ id: "237895671", author: "Codertocat", body: "Please add a test." }])
  })

  it("a dismissed review is ignored: the PR's decision over all reviews is not in the body", () => {
    const result = githubFactOf("pull_request_review", exampleOf("pull_request_review", (p) => p.action === "dismissed"))
    expect(result).toEqual({ _tag: "Ignored", reason: expect.stringContaining("dismissed") })
  })
})

describe("pull_request_review_comment", () => {
  it("a created comment is a comment with its path and line", () => {
    const fact = factOf(githubFactOf("pull_request_review_comment",
      exampleOf("pull_request_review_comment", (p) => p.action === "created" && p.comment.line === 265)))
    expect(fact.match.urls).toEqual([pr2])
    expect(fact.comments).toEqual([{
      id: "284312630", author: "Codertocat", body: "Maybe you should use more emoji on this line.", path: "README.md", line: 265
    }])
  })

  it("a comment without a line (outdated in the diff) keeps its path", () => {
    const fact = factOf(githubFactOf("pull_request_review_comment",
      exampleOf("pull_request_review_comment", (p) => p.action === "created" && p.comment.line === undefined)))
    expect(fact.comments).toEqual([{ id: "284312630", author: "Codertocat", body: "Maybe you should use more emoji on this line.", path: "README.md" }])
  })

  it("edited and deleted comments are ignored", () => {
    for (const action of ["edited", "deleted"]) {
      const result = githubFactOf("pull_request_review_comment", exampleOf("pull_request_review_comment", (p) => p.action === action))
      expect(result).toEqual({ _tag: "Ignored", reason: expect.stringContaining(action) })
    }
  })
})

describe("issue_comment", () => {
  it("a comment on a plain issue is ignored", () => {
    const result = githubFactOf("issue_comment", exampleOf("issue_comment", (p) => p.action === "created"))
    expect(result).toEqual({ _tag: "Ignored", reason: expect.stringContaining("not a pull request") })
  })

  it("a new comment on a PR is a comment of that PR", () => {
    // The published ones are all on an issue: the real one, on a PR as GitHub marks it.
    const payload = exampleOf("issue_comment", (p) => p.action === "created")
    payload.issue.pull_request = { url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/1", html_url: "https://github.com/Codertocat/Hello-World/pull/1" }
    const fact = factOf(githubFactOf("issue_comment", payload))
    expect(fact.match).toEqual({ urls: ["https://github.com/Codertocat/Hello-World/pull/1"], headBranch: null, repository: "Codertocat/Hello-World" })
    expect(fact.number).toBe(1)
    expect(fact.state).toBeUndefined()
    expect(fact.comments).toEqual([{ id: "492700400", author: "Codertocat", body: payload.comment.body }])
  })
})

describe("check_run", () => {
  it("a failed run is a completed check with conclusion failure, matched to its PR and branch", () => {
    const fact = factOf(githubFactOf("check_run", exampleOf("check_run", (p) => p.check_run.conclusion === "failure")))
    expect(fact).toEqual({
      match: { urls: [pr2], headBranch: "changes", repository: "Codertocat/Hello-World" },
      number: 2, headSha: sha, headBranch: "changes",
      checks: [{ name: "Octocoders-linter", status: "completed", conclusion: "failure", detailsUrl: "https://octocoders.io" }]
    })
  })

  it("a queued run has no conclusion yet", () => {
    const fact = factOf(githubFactOf("check_run", exampleOf("check_run", (p) => p.action === "created")))
    expect(fact.checks).toEqual([{ name: "Octocoders-linter", status: "queued", detailsUrl: "https://octocoders.github.io" }])
  })

  it("the output's summary and text are the log excerpt, html_url stands in for a missing details_url, a run without PRs is matched by branch", () => {
    const fact = factOf(githubFactOf("check_run", exampleOf("check_run", (p) => p.action === "rerequested")))
    expect(fact.match).toEqual({ urls: [], headBranch: "master", repository: "github/hello-world" })
    expect(fact.number).toBeUndefined()
    expect(fact.checks).toEqual([{
      name: "randscape", status: "completed", conclusion: "neutral", detailsUrl: "http://github.com/github/hello-world/runs/4",
      logExcerpt: "It's all good.\n\nMinus odio facilis repudiandae. Soluta odit aut amet magni nobis. Et voluptatibus ex dolorem et eum."
    }])
  })

  it("a run with no PR and no head branch is ignored", () => {
    const payload = exampleOf("check_run", (p) => p.action === "rerequested")
    payload.check_run.check_suite.head_branch = null
    expect(githubFactOf("check_run", payload)).toEqual({ _tag: "Ignored", reason: expect.stringContaining("no pull request") })
  })

  it("a run of a commit its PR has moved past is ignored, so a late result cannot pull the head back", () => {
    const payload = exampleOf("check_run", (p) => p.check_run.conclusion === "failure")
    payload.check_run.pull_requests[0].head.sha = "1111111111111111111111111111111111111111"
    expect(githubFactOf("check_run", payload)).toEqual({ _tag: "Ignored", reason: expect.stringContaining("no longer the head of #2") })
  })

  it("a completed run without a conclusion is Invalid at the conclusion", () => {
    const payload = exampleOf("check_run", (p) => p.check_run.conclusion === "failure")
    payload.check_run.conclusion = null
    expect(githubFactOf("check_run", payload)).toEqual({ _tag: "Invalid", path: "check_run.conclusion", message: expect.any(String) })
  })

  it("a button pressed on a check (requested_action) is ignored", () => {
    expect(githubFactOf("check_run", exampleOf("check_run", (p) => p.action === "requested_action"))._tag).toBe("Ignored")
  })
})

describe("check_suite", () => {
  it("a completed suite is a check named after its app, matched to its PR", () => {
    const fact = factOf(githubFactOf("check_suite", exampleOf("check_suite", (p) => p.action === "completed" && p.check_suite.pull_requests.length > 0)))
    expect(fact.match).toEqual({ urls: [pr2], headBranch: "changes", repository: "Codertocat/Hello-World" })
    expect(fact.checks).toEqual([{ name: "octocoders-linter", status: "completed", conclusion: "success" }])
  })

  it("a requested suite has no result yet and is ignored", () => {
    const result = githubFactOf("check_suite", exampleOf("check_suite", (p) => p.action === "requested"))
    expect(result).toEqual({ _tag: "Ignored", reason: expect.stringContaining("requested") })
  })
})

describe("workflow_run", () => {
  it("a run is a check named after it, with its html_url as the details link, matched by branch", () => {
    const fact = factOf(githubFactOf("workflow_run", exampleOf("workflow_run", (p) => p.workflow_run.name === "Manually triggered workflow")))
    expect(fact.match).toEqual({ urls: [], headBranch: "main", repository: "Codertocat/Hello-World" })
    expect(fact.headSha).toBe("5779607b49aab1200488439f02372c57b4f75444")
    expect(fact.checks).toEqual([{
      name: "Manually triggered workflow", status: "queued", detailsUrl: "https://github.com/octo-org/octo-repo/actions/runs/1589141559"
    }])
  })

  it("a run without a name takes its workflow's", () => {
    const fact = factOf(githubFactOf("workflow_run", exampleOf("workflow_run", (p) => p.workflow_run.conclusion === "success" && p.workflow_run.pull_requests.length === 0)))
    expect(fact.checks).toEqual([{
      name: "test", status: "completed", conclusion: "success", detailsUrl: "https://github.com/octo-org/octo-repo/actions/runs/289782451"
    }])
  })

  it("a run listed with a PR whose head is that commit is matched to the PR's page", () => {
    const payload = exampleOf("workflow_run", (p) => p.workflow_run.pull_requests.length > 0)
    payload.workflow_run.pull_requests[0].head.sha = payload.workflow_run.head_sha
    const fact = factOf(githubFactOf("workflow_run", payload))
    expect(fact.match.urls).toEqual([pr2])
    expect(fact.number).toBe(2)
  })

  it("a run that needs approval is completed with action_required", () => {
    const fact = factOf(githubFactOf("workflow_run", exampleOf("workflow_run", (p) => p.workflow_run.conclusion === "action_required")))
    expect(fact.checks?.[0]).toMatchObject({ status: "completed", conclusion: "action_required" })
  })
})

describe("githubFactOf for any body", () => {
  it("never throws, for arbitrary JSON under any supported event name", () => {
    fc.assert(fc.property(fc.constantFrom(...supportedGithubEvents), fc.jsonValue(), (eventName, payload) => {
      expectWellFormed(githubFactOf(eventName, payload))
    }), { numRuns: 3_000 })
  })

  it("never throws when any field of a real example is replaced by arbitrary JSON", () => {
    const examples = supportedGithubEvents.flatMap((eventName) => examplesOf(eventName).map((e) => ({ eventName, payload: e.payload })))
    // Paths to every value inside an example, so the replacement lands at every depth.
    const pathsOf = (v: unknown, at: ReadonlyArray<string> = []): Array<ReadonlyArray<string>> =>
      typeof v === "object" && v !== null
        ? [at, ...Object.entries(v).flatMap(([k, inner]) => pathsOf(inner, [...at, k]))]
        : [at]
    const cases = examples.map((e) => ({ ...e, paths: pathsOf(e.payload).filter((p) => p.length > 0) }))
    fc.assert(fc.property(
      fc.constantFrom(...cases).chain((c) => fc.tuple(fc.constant(c), fc.constantFrom(...c.paths), fc.jsonValue())),
      ([c, path, value]) => {
        const payload = structuredClone(c.payload)
        let target = payload
        for (const k of path.slice(0, -1)) target = target[k]
        target[path[path.length - 1]!] = value
        expectWellFormed(githubFactOf(c.eventName, payload))
      }), { numRuns: 3_000 })
  })
})
