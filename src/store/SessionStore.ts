/**
 * Projects, sessions, their pull requests with CI history and review comments, reaction
 * budgets and GitHub deliveries (migration 0009). Methods named `…InTx` run on the writer
 * inside the caller's transaction; the others read on the reader for the API. change_log rows
 * come from triggers. The session machine's decisions are the Sessions service's.
 */
import { Context, type Effect } from "effect"
import type {
  CheckConclusion, CheckStatus, CiState, Mergeability, PrState, ReviewDecision, TerminationReason
} from "../domain/Session.js"
import type { SqlError } from "./errors.js"

export interface ProjectRow {
  readonly id: string
  readonly name: string
  readonly repoPath: string | null
  readonly originUrl: string | null
  readonly createdAt: number
  readonly archivedAt: number | null
}

/** How the reaper probes a session's runtime (SessionInput.runtime). */
export type RuntimeProbe = { readonly kind: string; readonly [key: string]: unknown }

export interface SessionRow {
  readonly id: string
  readonly projectId: string
  readonly n: number
  /** The machine's flat state (src/machines/session.ts stateOf). */
  readonly state: string
  /** The machine's persisted state value and context. */
  readonly snapshot: { readonly value: unknown; readonly context: unknown }
  readonly isAlive: boolean
  readonly terminationReason: TerminationReason | null
  readonly terminationDetail: string | null
  readonly agent: string | null
  readonly branch: string | null
  readonly workspacePath: string | null
  readonly agentEndpoint: string | null
  readonly runtime: RuntimeProbe | null
  readonly version: number
  readonly createdAt: number
  readonly updatedAt: number
  readonly endedAt: number | null
}

export interface PullRequestRow {
  readonly url: string
  readonly sessionId: string
  readonly projectId: string
  readonly number: number
  readonly state: PrState
  readonly reviewDecision: ReviewDecision | null
  readonly mergeability: Mergeability | null
  readonly ciState: CiState
  readonly headSha: string
  readonly headBranch: string | null
  readonly failedRuns: number
  readonly createdAt: number
  readonly updatedAt: number
}

export interface CheckRow {
  readonly prUrl: string
  readonly headSha: string
  readonly name: string
  readonly sessionId: string
  readonly projectId: string
  readonly status: CheckStatus
  readonly conclusion: CheckConclusion | null
  readonly detailsUrl: string | null
  readonly failedStep: string | null
  readonly logExcerpt: string | null
  readonly updatedAt: number
}

export interface CommentRow {
  readonly prUrl: string
  readonly id: string
  readonly sessionId: string
  readonly author: string
  readonly body: string
  readonly path: string | null
  readonly line: number | null
  readonly createdAt: number
}

export interface GithubDeliveryRow {
  readonly deliveryId: string
  readonly event: string
  readonly action: string | null
  readonly outcome: "applied" | "ignored"
  readonly reason: string | null
  readonly sessionId: string | null
  readonly projectId: string | null
  readonly receivedAt: number
}

export interface SessionFilter {
  readonly projectId?: string | undefined
  readonly state?: string | undefined
  readonly alive?: boolean | undefined
  /** At most this many, newest first. */
  readonly limit: number
}

export interface SessionStoreShape {
  /** Inserts the project unless its id exists (archived or not); whether it did. */
  readonly insertProjectInTx: (row: Omit<ProjectRow, "archivedAt">) => Effect.Effect<boolean, SqlError>
  /** Marks it archived (once); whether it was active. */
  readonly archiveProjectInTx: (id: string, now: number) => Effect.Effect<boolean, SqlError>
  /** A project by id, archived ones included (old sessions never dangle). */
  readonly project: (id: string) => Effect.Effect<ProjectRow | undefined, SqlError>
  /** Active projects by id; with `archived`, every one. */
  readonly projects: (options: { readonly archived: boolean }) => Effect.Effect<ReadonlyArray<ProjectRow>, SqlError>
  /** Takes the next session number of an active project (one UPDATE ... RETURNING); undefined when it is missing or archived. */
  readonly takeSessionNumberInTx: (projectId: string) => Effect.Effect<number | undefined, SqlError>
  readonly insertSessionInTx: (row: SessionRow) => Effect.Effect<void, SqlError>
  /**
   * The session, locked for this transaction where the engine has row locks (PostgreSQL's
   * FOR UPDATE): observations of one session apply one at a time across processes.
   */
  readonly sessionForUpdateInTx: (id: string) => Effect.Effect<SessionRow | undefined, SqlError>
  /** Writes the session as it now is if its version is still `row.version - 1`; whether it did. */
  readonly updateSessionInTx: (row: SessionRow) => Effect.Effect<boolean, SqlError>
  readonly session: (id: string) => Effect.Effect<SessionRow | undefined, SqlError>
  readonly sessions: (filter: SessionFilter) => Effect.Effect<ReadonlyArray<SessionRow>, SqlError>
  /** Live sessions with a runtime to probe (the reaper's scan). */
  readonly liveSessionsWithRuntime: Effect.Effect<ReadonlyArray<SessionRow>, SqlError>
  /** Live sessions working on `branch` (a webhook for a PR not seen yet), newest first. */
  readonly sessionsOnBranch: (branch: string) => Effect.Effect<ReadonlyArray<SessionRow>, SqlError>
  readonly pullRequestInTx: (url: string) => Effect.Effect<PullRequestRow | undefined, SqlError>
  readonly pullRequest: (url: string) => Effect.Effect<PullRequestRow | undefined, SqlError>
  readonly pullRequestsOf: (sessionId: string) => Effect.Effect<ReadonlyArray<PullRequestRow>, SqlError>
  /** Inserts or updates the PR (an update that changes nothing fires no trigger). */
  readonly upsertPullRequestInTx: (row: PullRequestRow) => Effect.Effect<void, SqlError>
  /** Inserts new checks and updates changed ones; an unchanged check writes nothing. */
  readonly upsertChecksInTx: (rows: ReadonlyArray<CheckRow>) => Effect.Effect<void, SqlError>
  /** The PR's checks at every head commit, oldest commit first (the CI history). */
  readonly checksOfInTx: (prUrl: string) => Effect.Effect<ReadonlyArray<CheckRow>, SqlError>
  readonly checksOf: (prUrl: string) => Effect.Effect<ReadonlyArray<CheckRow>, SqlError>
  /** Inserts the comments not stored yet; returns the ids it inserted (each forwarded once). */
  readonly insertCommentsInTx: (rows: ReadonlyArray<CommentRow>) => Effect.Effect<ReadonlySet<string>, SqlError>
  /** Spends one of `key`'s budget for the session; returns how many were spent before. */
  readonly spendBudgetInTx: (sessionId: string, key: string, notificationId: string | null, now: number) => Effect.Effect<number, SqlError>
  readonly budgetsOf: (sessionId: string) => Effect.Effect<ReadonlyArray<{ readonly key: string; readonly spent: number; readonly lastNotificationId: string | null }>, SqlError>
  /** Whether a GitHub delivery of this id was recorded (X-GitHub-Delivery: a redelivery keeps it). */
  readonly githubDeliverySeenInTx: (deliveryId: string) => Effect.Effect<boolean, SqlError>
  /** Records a GitHub delivery unless its id was seen; whether it is new. */
  readonly recordGithubDeliveryInTx: (row: GithubDeliveryRow) => Effect.Effect<boolean, SqlError>
}

export class SessionStore extends Context.Tag("herald/SessionStore")<SessionStore, SessionStoreShape>() {}
