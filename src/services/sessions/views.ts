/** What the API and the library answer for projects and sessions: Schemas (the OpenAPI document's too) and the row-to-view mapping. */
import { Schema } from "effect"
import type { SessionRow } from "../../store/SessionStore.js"

const Nullable = Schema.NullOr

export const ProjectView = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  repoPath: Nullable(Schema.String),
  originUrl: Nullable(Schema.String),
  createdAt: Schema.Number,
  archivedAt: Nullable(Schema.Number)
}).annotations({ identifier: "Project" })
export type ProjectView = typeof ProjectView.Type

export const SessionView = Schema.Struct({
  id: Schema.String.annotations({ description: "`{projectId}-{n}`" }),
  projectId: Schema.String,
  state: Schema.String.annotations({ description: "the session machine's state (spawning … merged, killed, died)" }),
  isAlive: Schema.Boolean,
  terminationReason: Nullable(Schema.String),
  terminationDetail: Nullable(Schema.String),
  agent: Nullable(Schema.String),
  branch: Nullable(Schema.String),
  workspacePath: Nullable(Schema.String),
  agentEndpoint: Nullable(Schema.String),
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  endedAt: Nullable(Schema.Number)
}).annotations({ identifier: "Session" })
export type SessionView = typeof SessionView.Type

export const PullRequestView = Schema.Struct({
  url: Schema.String,
  number: Schema.Number,
  state: Schema.String,
  reviewDecision: Nullable(Schema.String),
  mergeability: Nullable(Schema.String),
  ciState: Schema.String.annotations({ description: "pending | running | passed | failed, at the head commit" }),
  headSha: Schema.String,
  failedRuns: Schema.Number.annotations({ description: "head commits with failed CI since the last green one" }),
  checks: Schema.Array(Schema.Struct({
    name: Schema.String,
    status: Schema.String,
    conclusion: Nullable(Schema.String),
    detailsUrl: Nullable(Schema.String),
    failedStep: Nullable(Schema.String),
    logExcerpt: Nullable(Schema.String)
  })).annotations({ description: "the checks at the head commit" })
}).annotations({ identifier: "PullRequest" })
export type PullRequestView = typeof PullRequestView.Type

export const SessionDetail = Schema.Struct({
  ...SessionView.fields,
  pullRequests: Schema.Array(PullRequestView),
  reactions: Schema.Array(Schema.Struct({ key: Schema.String, spent: Schema.Number }))
    .annotations({ description: "what the session's reactions spent, per budget key (agent messages, pages, notifications)" })
}).annotations({ identifier: "SessionDetail" })
export type SessionDetail = typeof SessionDetail.Type

export const sessionView = (r: SessionRow): SessionView => ({
  id: r.id, projectId: r.projectId, state: r.state, isAlive: r.isAlive, terminationReason: r.terminationReason,
  terminationDetail: r.terminationDetail, agent: r.agent, branch: r.branch, workspacePath: r.workspacePath,
  agentEndpoint: r.agentEndpoint, createdAt: r.createdAt, updatedAt: r.updatedAt, endedAt: r.endedAt
})
