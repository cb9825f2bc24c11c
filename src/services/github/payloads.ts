/**
 * The parts of GitHub's webhook bodies Herald reads, as Schemas: everything else in a body is
 * ignored, and a missing or mistyped part here is what makes an event Invalid.
 */
import { Schema } from "effect"
import { NonEmptyText } from "../../domain/Text.js"

// What PrObservation keeps of these, held to its limits here so a fact is always storable.
const Sha = NonEmptyText(100)
const Ref = NonEmptyText(500)
const Url = NonEmptyText(2_048)
const PrNumber = Schema.Int.pipe(Schema.positive())

const NullableString = Schema.NullOr(Schema.String)

// A deleted account shows as null (GitHub renders it as "ghost").
const User = Schema.NullOr(Schema.Struct({ login: Schema.String }))

export const Repository = Schema.Struct({
  id: Schema.Number,
  full_name: Schema.String,
  html_url: Schema.String
})

export const PullRequest = Schema.Struct({
  html_url: Url,
  number: PrNumber,
  state: Schema.Literal("open", "closed"),
  // pull_request events carry `merged`; the PR inside review events carries only `merged_at`.
  merged: Schema.optional(Schema.NullOr(Schema.Boolean)),
  merged_at: Schema.optional(NullableString),
  mergeable: Schema.optional(Schema.NullOr(Schema.Boolean)),
  mergeable_state: Schema.optional(Schema.String),
  head: Schema.Struct({ sha: Sha, ref: Ref })
})
export type PullRequest = typeof PullRequest.Type

/** A PR as check_run, check_suite and workflow_run list it: API url, number, head and base repo. */
export const PullRequestRef = Schema.Struct({
  url: Schema.String,
  number: PrNumber,
  head: Schema.Struct({ sha: Sha, ref: Ref }),
  base: Schema.Struct({ repo: Schema.Struct({ id: Schema.Number }) })
})
export type PullRequestRef = typeof PullRequestRef.Type

export const PullRequestEvent = Schema.Struct({
  action: Schema.String,
  pull_request: PullRequest,
  repository: Repository
})

export const PullRequestReviewEvent = Schema.Struct({
  action: Schema.String,
  review: Schema.Struct({ id: Schema.Int, state: Schema.String, body: NullableString, user: User }),
  pull_request: PullRequest,
  repository: Repository
})

export const PullRequestReviewCommentEvent = Schema.Struct({
  action: Schema.String,
  comment: Schema.Struct({
    id: Schema.Int,
    body: Schema.String,
    user: User,
    path: Schema.String,
    // null on a comment whose line the PR's diff no longer has.
    line: Schema.optional(Schema.NullOr(Schema.Int))
  }),
  pull_request: PullRequest,
  repository: Repository
})

export const IssueCommentEvent = Schema.Struct({
  action: Schema.String,
  issue: Schema.Struct({
    number: PrNumber,
    html_url: Url,
    // Present exactly when the issue is a pull request.
    pull_request: Schema.optional(Schema.Struct({ html_url: Schema.optional(Schema.NullOr(Url)) }))
  }),
  comment: Schema.Struct({ id: Schema.Int, body: Schema.String, user: User }),
  repository: Repository
})

const CheckOutput = Schema.Struct({
  summary: Schema.optional(NullableString),
  text: Schema.optional(NullableString)
})

export const CheckRunEvent = Schema.Struct({
  action: Schema.String,
  check_run: Schema.Struct({
    name: Schema.String,
    status: Schema.String,
    conclusion: Schema.optional(NullableString),
    head_sha: Sha,
    details_url: Schema.optional(NullableString),
    html_url: Schema.optional(NullableString),
    output: Schema.optional(Schema.NullOr(CheckOutput)),
    check_suite: Schema.optional(Schema.NullOr(Schema.Struct({ head_branch: Schema.NullOr(Ref) }))),
    pull_requests: Schema.Array(PullRequestRef)
  }),
  repository: Repository
})

export const CheckSuiteEvent = Schema.Struct({
  action: Schema.String,
  check_suite: Schema.Struct({
    status: NullableString,
    conclusion: Schema.optional(NullableString),
    head_sha: Sha,
    head_branch: Schema.NullOr(Ref),
    app: Schema.Struct({ name: Schema.String }),
    pull_requests: Schema.Array(PullRequestRef)
  }),
  repository: Repository
})

export const WorkflowRunEvent = Schema.Struct({
  action: Schema.String,
  workflow_run: Schema.Struct({
    name: Schema.optional(NullableString),
    status: Schema.String,
    conclusion: Schema.optional(NullableString),
    head_sha: Sha,
    head_branch: Schema.NullOr(Ref),
    html_url: Schema.String,
    pull_requests: Schema.Array(PullRequestRef)
  }),
  // A run's name can be empty; the workflow's name is what GitHub's UI shows then.
  workflow: Schema.optional(Schema.NullOr(Schema.Struct({ name: Schema.String }))),
  repository: Repository
})
