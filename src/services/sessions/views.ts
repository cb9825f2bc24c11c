/** What the API and the library answer for a session: its row as callers see it, and the detail with PRs and reactions. */
import type { SessionRow } from "../../store/SessionStore.js"

export interface SessionView {
  readonly id: string
  readonly projectId: string
  readonly state: string
  readonly isAlive: boolean
  readonly terminationReason: string | null
  readonly terminationDetail: string | null
  readonly agent: string | null
  readonly branch: string | null
  readonly workspacePath: string | null
  readonly agentEndpoint: string | null
  readonly createdAt: number
  readonly updatedAt: number
  readonly endedAt: number | null
}

export interface PullRequestView {
  readonly url: string
  readonly number: number
  readonly state: string
  readonly reviewDecision: string | null
  readonly mergeability: string | null
  readonly ciState: string
  readonly headSha: string
  /** Head commits with failed CI since the last green one. */
  readonly failedRuns: number
  /** The checks at the head commit. */
  readonly checks: ReadonlyArray<{
    readonly name: string
    readonly status: string
    readonly conclusion: string | null
    readonly detailsUrl: string | null
    readonly failedStep: string | null
    readonly logExcerpt: string | null
  }>
}

export interface SessionDetail extends SessionView {
  readonly pullRequests: ReadonlyArray<PullRequestView>
  /** What the session's reactions spent, per budget key (agent messages, pages, notifications). */
  readonly reactions: ReadonlyArray<{ readonly key: string; readonly spent: number }>
}

export const sessionView = (r: SessionRow): SessionView => ({
  id: r.id, projectId: r.projectId, state: r.state, isAlive: r.isAlive, terminationReason: r.terminationReason,
  terminationDetail: r.terminationDetail, agent: r.agent, branch: r.branch, workspacePath: r.workspacePath,
  agentEndpoint: r.agentEndpoint, createdAt: r.createdAt, updatedAt: r.updatedAt, endedAt: r.endedAt
})
