/**
 * GitHub's webhook (the X-GitHub-Event name and the parsed JSON body) as what it says about pull
 * requests: a PrFact, or Ignored with the reason, or Invalid with the field. Never throws.
 * Finding the session and merging into its PR is the caller's (merge.ts).
 */
import { Either, ParseResult, Schema } from "effect"
import { issuesOf } from "../../domain/decode.js"
import { CommentObservation, type ReviewDecision } from "../../domain/Session.js"
import { checkFactOf } from "./checkFact.js"
import { checkObservationOf } from "./checks.js"
import { factOf, type GithubFact, ignored, invalid } from "./fact.js"
import * as P from "./payloads.js"
import { pullRequestFactOf } from "./pullRequestFact.js"
import { storableText } from "./text.js"

/** The X-GitHub-Event names githubFactOf reads; any other is Ignored. */
export const supportedGithubEvents = [
  "pull_request", "pull_request_review", "pull_request_review_comment", "issue_comment",
  "check_run", "check_suite", "workflow_run"
] as const

const decodeComment = Schema.decodeUnknownEither(CommentObservation)

/** Decodes `payload` with `schema` and maps it, or the first issue as Invalid. */
const reading = <A, I>(schema: Schema.Schema<A, I>, map: (body: A) => GithubFact) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (payload: unknown): GithubFact =>
    Either.match(decode(payload), {
      onLeft: (error: ParseResult.ParseError) => {
        const issue = issuesOf(error)[0]
        return invalid(issue?.path ?? "", issue?.message ?? "Expected a GitHub webhook body")
      },
      onRight: map
    })
}

interface GithubComment {
  readonly id: number
  readonly body: string
  readonly user: { readonly login: string } | null
  readonly path?: string
  readonly line?: number | null | undefined
}

const commentOf = (c: GithubComment, at: string) => Either.mapLeft(
  decodeComment({
    id: c.id,
    // GitHub shows a deleted account as "ghost".
    author: c.user?.login === undefined || c.user.login === "" ? "ghost" : c.user.login,
    body: storableText(c.body, 65_536),
    ...(c.path === undefined ? {} : { path: c.path }),
    ...(typeof c.line === "number" && c.line > 0 ? { line: c.line } : {})
  }),
  (error) => {
    const issue = issuesOf(error)[0]
    return invalid(`${at}.${issue?.path ?? ""}`, issue?.message ?? "Expected a comment")
  })

const pullRequest = reading(P.PullRequestEvent, (e) => factOf(pullRequestFactOf(e.pull_request, e.repository.full_name)))

const reviewDecisions: Record<string, ReviewDecision> = { approved: "approved", changes_requested: "changes_requested" }

const pullRequestReview = reading(P.PullRequestReviewEvent, (e) => {
  // A dismissal or an edit changes one reviewer's review; the PR's decision over all its
  // reviews is not in the body, so it waits for the next poll.
  if (e.action !== "submitted") return ignored(`pull_request_review ${e.action}: only submitted reviews are read`)
  const state = e.review.state.toLowerCase()
  const decision = Object.hasOwn(reviewDecisions, state) ? reviewDecisions[state] : undefined
  const body = e.review.body ?? ""
  const comment = body.trim() === "" ? undefined : commentOf({ id: e.review.id, body, user: e.review.user }, "review")
  if (comment !== undefined && Either.isLeft(comment)) return comment.left
  return factOf({
    ...pullRequestFactOf(e.pull_request, e.repository.full_name),
    ...(decision === undefined ? {} : { reviewDecision: decision }),
    ...(comment === undefined ? {} : { comments: [comment.right] })
  })
})

const pullRequestReviewComment = reading(P.PullRequestReviewCommentEvent, (e) => {
  if (e.action !== "created") return ignored(`pull_request_review_comment ${e.action}: only new comments are read`)
  return Either.match(commentOf(e.comment, "comment"), {
    onLeft: (left) => left,
    onRight: (comment) => factOf({ ...pullRequestFactOf(e.pull_request, e.repository.full_name), comments: [comment] })
  })
})

const issueComment = reading(P.IssueCommentEvent, (e) => {
  if (e.issue.pull_request === undefined) return ignored(`issue_comment on issue #${e.issue.number}, which is not a pull request`)
  if (e.action !== "created") return ignored(`issue_comment ${e.action}: only new comments are read`)
  return Either.match(commentOf(e.comment, "comment"), {
    onLeft: (left) => left,
    // Only the number: the issue's state says closed for a merged PR too.
    onRight: (comment) => factOf({
      match: { urls: [e.issue.pull_request?.html_url ?? e.issue.html_url], headBranch: null, repository: e.repository.full_name },
      number: e.issue.number,
      comments: [comment]
    })
  })
})

const checkRun = reading(P.CheckRunEvent, (e) => {
  const run = e.check_run
  // requested_action is a button pressed on the check, not a new result.
  if (e.action === "requested_action") return ignored("check_run requested_action: a user action on the check, not its result")
  return Either.match(checkObservationOf(
    { name: run.name, status: run.status, conclusion: run.conclusion, detailsUrl: run.details_url ?? run.html_url, summary: run.output?.summary, text: run.output?.text },
    { name: "check_run.name", status: "check_run.status", conclusion: "check_run.conclusion" }), {
    onLeft: (issue) => invalid(issue.path, issue.message),
    onRight: (check) => checkFactOf({
      check, headSha: run.head_sha, headBranch: run.check_suite?.head_branch ?? null,
      pullRequests: run.pull_requests, repository: e.repository
    })
  })
})

const checkSuite = reading(P.CheckSuiteEvent, (e) => {
  // requested / rerequested open a suite; its result comes with completed (and its runs' own events).
  if (e.action !== "completed") return ignored(`check_suite ${e.action}: only a completed suite has a result`)
  const suite = e.check_suite
  return Either.match(checkObservationOf(
    { name: suite.app.name, status: suite.status, conclusion: suite.conclusion, detailsUrl: undefined },
    { name: "check_suite.app.name", status: "check_suite.status", conclusion: "check_suite.conclusion" }), {
    onLeft: (issue) => invalid(issue.path, issue.message),
    onRight: (check) => checkFactOf({
      check, headSha: suite.head_sha, headBranch: suite.head_branch, pullRequests: suite.pull_requests, repository: e.repository
    })
  })
})

const workflowRun = reading(P.WorkflowRunEvent, (e) => {
  const run = e.workflow_run
  const name = run.name === undefined || run.name === null || run.name === "" ? e.workflow?.name ?? "" : run.name
  return Either.match(checkObservationOf(
    { name, status: run.status, conclusion: run.conclusion, detailsUrl: run.html_url },
    { name: "workflow_run.name", status: "workflow_run.status", conclusion: "workflow_run.conclusion" }), {
    onLeft: (issue) => invalid(issue.path, issue.message),
    onRight: (check) => checkFactOf({
      check, headSha: run.head_sha, headBranch: run.head_branch, pullRequests: run.pull_requests, repository: e.repository
    })
  })
})

const readers: Record<typeof supportedGithubEvents[number], (payload: unknown) => GithubFact> = {
  pull_request: pullRequest,
  pull_request_review: pullRequestReview,
  pull_request_review_comment: pullRequestReviewComment,
  issue_comment: issueComment,
  check_run: checkRun,
  check_suite: checkSuite,
  workflow_run: workflowRun
}

/** What a webhook of `eventName` (X-GitHub-Event) with the JSON body `payload` says about PRs. */
export const githubFactOf = (eventName: string, payload: unknown): GithubFact =>
  Object.hasOwn(readers, eventName)
    ? readers[eventName as keyof typeof readers](payload)
    // The name is a request header: cut, so a long one does not fill the log it is written to.
    : ignored(`${eventName === "" ? "an event without a name" : `event "${eventName.slice(0, 100)}"`} says nothing Herald reads of pull requests`)
