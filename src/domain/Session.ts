/**
 * Projects, coding-agent sessions and what is observed of them (their pull requests with CI
 * checks and review comments, the agent's liveness and activity), as the API and the library
 * take them in. The session machine is src/machines/session.ts; persistence is SessionStore's.
 */
import { Schema } from "effect"
import { NonEmptyText, Text } from "./Text.js"

/** A project id: what session ids are built from (`{project}-{n}`). */
export const ProjectId = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9_.]{0,62}[a-z0-9]$|^[a-z0-9]$/, {
    message: () => "a project id is 1-64 lower-case letters, digits, '_' or '.', starting and ending with a letter or digit (no '-': session ids are `{project}-{n}`)"
  }),
  Schema.brand("ProjectId")
)
export type ProjectId = typeof ProjectId.Type

/** `{projectId}-{n}`, n from 1, assigned atomically per project. */
export const SessionId = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9_.]{0,63}-[1-9][0-9]{0,15}$/, {
    message: () => "a session id is `{projectId}-{n}`, e.g. `web-3`"
  }),
  Schema.brand("SessionId")
)
export type SessionId = typeof SessionId.Type

/** The session id of the `n`-th session of `project`. */
export const sessionIdOf = (project: ProjectId, n: number) => `${project}-${n}` as SessionId

/** The project a session id belongs to. */
export const projectOf = (session: SessionId) => session.slice(0, session.lastIndexOf("-")) as ProjectId

/** An http(s) URL of at most `max` characters. */
const HttpUrl = (max: number) =>
  NonEmptyText(max).pipe(Schema.filter((s) => {
    try {
      const u = new URL(s)
      return u.protocol === "http:" || u.protocol === "https:" || "must be an http:// or https:// URL"
    } catch {
      return "must be an absolute URL (http:// or https://)"
    }
  }))

export const ProjectInput = Schema.Struct({
  id: ProjectId,
  name: NonEmptyText(200),
  repoPath: Schema.optional(NonEmptyText(4_096)),
  originUrl: Schema.optional(NonEmptyText(2_048))
})
export type ProjectInput = typeof ProjectInput.Type

export const SessionInput = Schema.Struct({
  projectId: ProjectId,
  agent: Schema.optional(NonEmptyText(200)),
  branch: Schema.optional(NonEmptyText(500)),
  workspacePath: Schema.optional(NonEmptyText(4_096)),
  /** Where messages to the agent go (the `agent` sink posts there, signed like webhooks). */
  agentEndpoint: Schema.optional(HttpUrl(2_048)),
  /** How the reaper tells whether the agent's runtime is still there. */
  runtime: Schema.optional(Schema.Union(
    Schema.Struct({ kind: Schema.Literal("pid"), pid: Schema.Int.pipe(Schema.positive()) }),
    Schema.Struct({ kind: Schema.Literal("http"), url: HttpUrl(2_048) })
  ))
})
export type SessionInput = typeof SessionInput.Type

export const prStates = ["open", "closed", "merged"] as const
export const PrState = Schema.Literal(...prStates)
export type PrState = typeof PrState.Type

export const reviewDecisions = ["review_required", "approved", "changes_requested"] as const
export const ReviewDecision = Schema.Literal(...reviewDecisions)
export type ReviewDecision = typeof ReviewDecision.Type

export const mergeabilities = ["mergeable", "conflicting", "unknown"] as const
export const Mergeability = Schema.Literal(...mergeabilities)
export type Mergeability = typeof Mergeability.Type

export const checkStatuses = ["queued", "in_progress", "completed"] as const
export const CheckStatus = Schema.Literal(...checkStatuses)
export type CheckStatus = typeof CheckStatus.Type

export const checkConclusions = ["success", "failure", "cancelled", "skipped", "timed_out", "neutral", "action_required"] as const
export const CheckConclusion = Schema.Literal(...checkConclusions)
export type CheckConclusion = typeof CheckConclusion.Type

/** A PR's CI as a whole at its head commit: derived from its checks (ciStateOf). */
export const ciStates = ["pending", "running", "passed", "failed"] as const
export type CiState = typeof ciStates[number]

export const CheckObservation = Schema.Struct({
  name: NonEmptyText(500),
  status: CheckStatus,
  conclusion: Schema.optional(CheckConclusion),
  detailsUrl: Schema.optional(NonEmptyText(2_048)),
  failedStep: Schema.optional(Text(1_000)),
  logExcerpt: Schema.optional(Text(16_384))
}).pipe(Schema.filter((c) =>
  c.status === "completed"
    ? c.conclusion !== undefined || { path: ["conclusion"], message: "a completed check needs its conclusion" }
    : c.conclusion === undefined || { path: ["conclusion"], message: `a ${c.status} check has no conclusion yet` }))
export type CheckObservation = typeof CheckObservation.Type

export const CommentObservation = Schema.Struct({
  /** GitHub's numeric ids are taken as their decimal text. */
  id: Schema.Union(NonEmptyText(200), Schema.Int.pipe(Schema.nonNegative())).pipe(
    Schema.transform(NonEmptyText(200), { strict: true, decode: (v) => String(v), encode: (v) => v })),
  author: NonEmptyText(200),
  body: Text(65_536),
  path: Schema.optional(NonEmptyText(4_096)),
  line: Schema.optional(Schema.Int.pipe(Schema.positive()))
})
export type CommentObservation = typeof CommentObservation.Type

/** What is seen of one pull request at one moment: a poll, or a webhook mapped to it. */
export const PrObservation = Schema.Struct({
  url: HttpUrl(2_048),
  number: Schema.Int.pipe(Schema.positive()),
  state: PrState,
  reviewDecision: Schema.optional(ReviewDecision),
  mergeability: Schema.optional(Mergeability),
  headSha: NonEmptyText(100),
  /** The PR's head branch: how a webhook finds the session of a PR not seen yet. */
  headBranch: Schema.optional(NonEmptyText(500)),
  checks: Schema.optionalWith(Schema.Array(CheckObservation).pipe(Schema.maxItems(500)), { default: () => [] }),
  comments: Schema.optionalWith(Schema.Array(CommentObservation).pipe(Schema.maxItems(1_000)), { default: () => [] })
})
export type PrObservation = typeof PrObservation.Type

export const LivenessObservation = Schema.Struct({
  alive: Schema.Boolean,
  reason: Schema.optional(NonEmptyText(500))
})
export type LivenessObservation = typeof LivenessObservation.Type

export const ActivityObservation = Schema.Struct({
  kind: NonEmptyText(100),
  detail: Schema.optional(Text(65_536))
})
export type ActivityObservation = typeof ActivityObservation.Type

export const TerminateInput = Schema.Struct({ reason: NonEmptyText(500) })
export type TerminateInput = typeof TerminateInput.Type

/**
 * Why a session ended: `pr_merged` (its PR merged), `killed` (terminated by a caller),
 * `runtime_gone` (the reaper found its runtime gone), `agent_exited` (a liveness observation
 * said the agent is not alive).
 */
export const terminationReasons = ["pr_merged", "killed", "runtime_gone", "agent_exited"] as const
export const TerminationReason = Schema.Literal(...terminationReasons)
export type TerminationReason = typeof TerminationReason.Type

/**
 * CI at one head commit, from its checks: failed once any completed check failed (failure,
 * timed_out, cancelled, action_required), else running while any is queued or in progress,
 * passed when every check completed (success, neutral, skipped), pending with no check at all.
 */
export const ciStateOf = (checks: ReadonlyArray<Pick<CheckObservation, "status" | "conclusion">>): CiState => {
  if (checks.length === 0) return "pending"
  if (checks.some((c) => c.status === "completed" && isFailedConclusion(c.conclusion))) return "failed"
  if (checks.some((c) => c.status !== "completed")) return "running"
  return "passed"
}

export const isFailedConclusion = (c: CheckConclusion | undefined | null) =>
  c === "failure" || c === "timed_out" || c === "cancelled" || c === "action_required"

/**
 * The kind of every message to a session's agent: routed to the sinks of type `agent` only
 * (never by the settings' routes), and only such notifications go there.
 */
export const agentMessageKind = "session.agent_message"
