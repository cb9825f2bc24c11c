/**
 * The GitHub intake on a real database through the library, driven by the real example bodies
 * of @octokit/webhooks-examples signed as GitHub signs them: a PR's life from opened to merged,
 * redeliveries, forgeries, bad bodies, events no session owns and refused transitions.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { sign } from "@octokit/webhooks-methods"
import { Effect } from "effect"
import { Herald } from "../../../src/layers/Herald.js"
import { Sessions } from "../../../src/services/Sessions.js"
import { GithubIntake } from "../../../src/services/sessions/GithubIntake.js"
import { agentMessageKind } from "../../../src/services/sessions/reactions.js"
import { ChangeLogStore } from "../../../src/store/ChangeLogStore.js"
import { memorySettings, withHerald } from "../../support/herald.js"
import { exampleOf } from "../github/examples.js"

const secret = "It's a Secret to Everybody"
const settings = { ...memorySettings, integrations: { github: { secret } } }
const url = "https://github.com/Codertocat/Hello-World/pull/2"

const opened = () => exampleOf("pull_request", (p) => p.action === "opened")
const checkRun = (conclusion: string) => exampleOf("check_run", (p) => p.action === "completed" && p.check_run.conclusion === conclusion)
const approval = () => {
  // The published reviews are all "commented": the real one, as an approval is sent.
  const payload = exampleOf("pull_request_review", (p) => p.action === "submitted")
  payload.review.state = "approved"
  return payload
}
const mergedPr = () => {
  // No published example is a merge: the real closed one, with merged set as a merge sends it.
  const payload = exampleOf("pull_request", (p) => p.action === "closed")
  payload.pull_request.merged = true
  payload.pull_request.merged_at = "2019-05-15T15:20:40Z"
  return payload
}

let deliveries = 0
/** A delivery of `payload` as GitHub sends it: a fresh delivery id unless given, signed with `key`. */
const delivery = (event: string, payload: unknown, options: { readonly deliveryId?: string; readonly key?: string } = {}) =>
  Effect.promise(async () => {
    const rawBody = JSON.stringify(payload)
    return { event, deliveryId: options.deliveryId ?? `d-${++deliveries}`, rawBody, signature: await sign(options.key ?? secret, rawBody) }
  })

const receive = (event: string, payload: unknown, options?: { readonly deliveryId?: string; readonly key?: string }) =>
  Effect.flatMap(delivery(event, payload, options), (d) => Effect.flatMap(GithubIntake, (intake) => intake.receive(d)))

const count = (table: "github_deliveries" | "change_log") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.map(Effect.orDie(sql<{ n: number }>`SELECT count(*) AS n FROM ${sql(table)}`), (r) => Number(r[0]!.n)))

const start = Effect.gen(function* () {
  const sessions = yield* Sessions
  yield* sessions.createProject({ id: "hello", name: "Hello", originUrl: "https://github.com/Codertocat/Hello-World.git" })
  const s = yield* sessions.createSession({ projectId: "hello", agent: "claude", branch: "changes", agentEndpoint: "http://127.0.0.1:9/agent" })
  yield* sessions.observeActivity(s.id, { kind: "started" })
  return s
})

/** `body` on a fresh Herald with the GitHub secret set and the intake on top of it. */
const withIntake = <A, E>(body: Effect.Effect<A, E, GithubIntake | Sessions | Herald | ChangeLogStore | SqlClient.SqlClient>, herald: unknown = settings) =>
  withHerald(() => body, undefined, herald)

describe("GithubIntake", () => {
  it.scoped("a PR's life from its webhooks: opened on the session's branch, CI failed (the agent is told), green, approved, merged", () =>
    withIntake(Effect.gen(function* () {
      const sessions = yield* Sessions
      const herald = yield* Herald
      const s = yield* start
      expect(yield* receive("pull_request", opened())).toEqual({ outcome: "applied", sessionId: s.id, reason: null })
      const open = yield* sessions.get(s.id)
      expect(open.state).toBe("pr_open")
      expect(open.pullRequests).toEqual([expect.objectContaining({ url, number: 2, state: "open", mergeability: "unknown" })])

      expect((yield* receive("check_run", checkRun("failure"))).outcome).toBe("applied")
      const failed = yield* sessions.get(s.id)
      expect(failed.state).toBe("ci_failed")
      expect(failed.pullRequests[0]).toMatchObject({ ciState: "failed", failedRuns: 1, checks: [expect.objectContaining({ name: "Octocoders-linter", conclusion: "failure" })] })
      const toAgent = (yield* herald.listNotifications({ sessionId: s.id, limit: 100 })).items.filter((n) => n.kind === agentMessageKind)
      expect(toAgent).toHaveLength(1)
      expect(toAgent[0]!.title).toContain("Octocoders-linter")

      yield* receive("check_run", checkRun("success"))
      expect((yield* sessions.get(s.id)).state).toBe("review_pending")
      yield* receive("pull_request_review", approval())
      // The review's PR says nothing of mergeability: the stored "unknown" (from opened) stands.
      expect(yield* sessions.get(s.id)).toMatchObject({ state: "approved", pullRequests: [expect.objectContaining({ reviewDecision: "approved", ciState: "passed" })] })
      yield* receive("pull_request", mergedPr())
      expect(yield* sessions.get(s.id)).toMatchObject({ state: "merged", terminationReason: "pr_merged", isAlive: true })
    }), settings))

  it.scoped("review comments, PR comments, check suites and workflow runs each move the owning session", () =>
    withIntake(Effect.gen(function* () {
      const sessions = yield* Sessions
      const herald = yield* Herald
      const s = yield* start
      yield* receive("pull_request", opened())
      const toAgent = Effect.map(herald.listNotifications({ sessionId: s.id, limit: 100 }),
        (p) => p.items.filter((n) => n.kind === agentMessageKind).map((n) => n.body))
      const reviewComment = exampleOf("pull_request_review_comment", (p) => p.action === "created")
      expect((yield* receive("pull_request_review_comment", reviewComment)).outcome).toBe("applied")
      expect(yield* toAgent).toContain(reviewComment.comment.body)
      // Every published issue_comment is on a plain issue: the real one, as a comment on PR #2 is sent.
      const prComment = exampleOf("issue_comment", (p) => p.action === "created")
      prComment.issue.number = 2
      prComment.issue.html_url = url
      prComment.issue.pull_request = { url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/2", html_url: url }
      prComment.comment.body = "and please add a changelog entry"
      expect((yield* receive("issue_comment", prComment)).outcome).toBe("applied")
      expect(yield* toAgent).toContain("and please add a changelog entry")
      const head = (yield* sessions.get(s.id)).pullRequests[0]!.headSha
      const suite = exampleOf("check_suite", (p) => p.action === "completed" && p.check_suite.head_branch === "changes")
      expect(suite.check_suite.head_sha).toBe(head) // the published suite is on PR #2's head commit
      expect(yield* receive("check_suite", suite)).toMatchObject({ outcome: "applied", sessionId: s.id })
      expect((yield* sessions.get(s.id)).pullRequests[0]!.checks.length).toBeGreaterThan(0)
      // The published run with a PR is on another commit: as sent, it is stale and ignored, saying so.
      const workflow = exampleOf("workflow_run", (p) => p.action === "completed" && (p.workflow_run.pull_requests ?? []).length > 0)
      expect(yield* receive("workflow_run", workflow)).toMatchObject({ outcome: "ignored", reason: expect.stringContaining("no longer the head") })
      // The same run on the PR's head commit (that one field changed) is one of its checks.
      workflow.workflow_run.head_sha = head
      expect(yield* receive("workflow_run", workflow)).toMatchObject({ outcome: "applied", sessionId: s.id })
      expect((yield* sessions.get(s.id)).pullRequests[0]!.checks.map((c) => c.name)).toContain(workflow.workflow_run.name || workflow.workflow.name) // an unnamed run takes its workflow's name
    }), settings))

  it.scoped("the same X-GitHub-Delivery again is a duplicate and changes nothing", () =>
    withIntake(Effect.gen(function* () {
      const sessions = yield* Sessions
      const s = yield* start
      expect((yield* receive("pull_request", opened(), { deliveryId: "once" })).outcome).toBe("applied")
      const before = { changes: yield* count("change_log"), rows: yield* count("github_deliveries"), session: yield* sessions.get(s.id) }
      // Redelivered with the PR now merged: were it applied, the session would end.
      expect(yield* receive("pull_request", mergedPr(), { deliveryId: "once" })).toEqual({ outcome: "duplicate", sessionId: null, reason: null })
      expect({ changes: yield* count("change_log"), rows: yield* count("github_deliveries"), session: yield* sessions.get(s.id) }).toEqual(before)
    })))

  it.scoped("a bad or missing signature is GithubSignatureInvalid and writes nothing", () =>
    withIntake(Effect.gen(function* () {
      yield* start
      const rows = yield* count("github_deliveries")
      const changes = yield* count("change_log")
      const forged = yield* Effect.flip(receive("pull_request", opened(), { key: "not the secret" }))
      expect(forged).toMatchObject({ _tag: "GithubSignatureInvalid", signatureSent: true })
      expect(forged.message).toContain("integrations.github.secret")
      const unsigned = { ...(yield* delivery("pull_request", opened())), signature: undefined }
      expect(yield* Effect.flip(Effect.flatMap(GithubIntake, (i) => i.receive(unsigned)))).toMatchObject({ _tag: "GithubSignatureInvalid", signatureSent: false })
      expect([yield* count("github_deliveries"), yield* count("change_log")]).toEqual([rows, changes])
    })))

  it.scoped("without a secret in the settings the intake is not configured, and says which setting to set", () =>
    withIntake(Effect.gen(function* () {
      const error = yield* Effect.flip(receive("pull_request", opened()))
      expect(error._tag).toBe("GithubIntakeNotConfigured")
      expect(error.message).toContain("integrations.github.secret")
      expect(yield* count("github_deliveries")).toBe(0)
    }), memorySettings))

  it.scoped("a body that is not JSON, or lacks what Herald reads, is InvalidInput naming the path, and writes nothing", () =>
    withIntake(Effect.gen(function* () {
      yield* start
      const notJson = yield* Effect.promise(async () => ({ event: "pull_request", deliveryId: "x", rawBody: "{nope", signature: await sign(secret, "{nope") }))
      expect(yield* Effect.flip(Effect.flatMap(GithubIntake, (i) => i.receive(notJson)))).toMatchObject({ _tag: "InvalidInput", issues: [{ path: "" }] })
      // The real opened example with the PR's number taken out.
      const payload = opened()
      delete payload.pull_request.number
      const invalid = yield* Effect.flip(receive("pull_request", payload))
      expect(invalid).toMatchObject({ _tag: "InvalidInput", issues: [{ path: "pull_request.number" }] })
      expect(yield* count("github_deliveries")).toBe(0)
    })))

  it.scoped("an event for a PR no session owns, or one Herald does not read, is recorded as ignored with the reason, in the feed", () =>
    withIntake(Effect.gen(function* () {
      const herald = yield* Herald
      const from = yield* herald.latestSeq
      const none = yield* receive("pull_request", opened(), { deliveryId: "nobody" })
      expect(none).toMatchObject({ outcome: "ignored", sessionId: null })
      expect(none.reason).toContain(url)
      const push = yield* receive("push", { ref: "refs/heads/main" }, { deliveryId: "push-1" })
      expect(push).toMatchObject({ outcome: "ignored", reason: expect.stringContaining(`"push"`) })
      const changes = (yield* Effect.orDie((yield* ChangeLogStore).after(from, 100))).filter((c) => c.entity === "github_delivery")
      expect(changes.map((c) => [c.entityId, c.event])).toEqual([["nobody", "ignored"], ["push-1", "ignored"]])
      expect(changes[0]!.payload).toMatchObject({ event: "pull_request", action: "opened", reason: none.reason })
    })))

  it.scoped("a transition the session refuses (it was merged) is recorded as ignored with its message, and leaves the PR as it was", () =>
    withIntake(Effect.gen(function* () {
      const sessions = yield* Sessions
      const s = yield* start
      yield* receive("pull_request", opened())
      yield* receive("pull_request", mergedPr())
      const reopened = exampleOf("pull_request", (p) => p.action === "reopened")
      const refused = yield* receive("pull_request", reopened)
      expect(refused).toMatchObject({ outcome: "ignored", sessionId: s.id, reason: expect.stringContaining("merged is final") })
      // The observation's savepoint rolled back: the PR row still says merged.
      expect((yield* sessions.get(s.id)).pullRequests).toEqual([expect.objectContaining({ url, state: "merged" })])
      expect(yield* count("github_deliveries")).toBe(3)
    })))

  it.scoped("webhooks and direct observations of one session at once all complete (no deadlock between the intake's transaction and the session's turn)", () =>
    withIntake(Effect.gen(function* () {
      const sessions = yield* Sessions
      const s = yield* start
      yield* receive("pull_request", opened())
      const direct = (i: number) => sessions.observePr(s.id, { url, number: 2, state: "open", headSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", checks: [{ name: `poll-${i}`, status: "in_progress" }] })
      const results = yield* Effect.all([
        ...Array.from({ length: 10 }, (_, i) => Effect.asVoid(direct(i))),
        ...Array.from({ length: 10 }, () => Effect.asVoid(receive("check_run", checkRun("success"))))
      ], { concurrency: "unbounded" })
      expect(results).toHaveLength(20)
      expect(yield* count("github_deliveries")).toBe(11)
    })))
})
