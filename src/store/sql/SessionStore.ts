/**
 * SessionStore in SQL that SQLite and PostgreSQL both run as written; the engine only changes
 * how a boolean and a JSON column travel (SQLite: 0/1 and text; PostgreSQL: boolean and jsonb)
 * and whether a session row can be locked (PostgreSQL's FOR UPDATE; SQLite has one writer).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { ReadSql } from "../ReadSql.js"
import {
  type CheckRow, type CommentRow, type GithubDeliveryRow, type ProjectRow, type PullRequestRow,
  type SessionFilter, SessionStore, type SessionRow
} from "../SessionStore.js"

type Engine = "sqlite" | "pg"

/** A row as the driver gives it: booleans as 0/1 or true/false, JSON as text or parsed. */
type Raw<T> = { readonly [K in keyof T]: unknown }

const json = (v: unknown): unknown => (typeof v === "string" ? JSON.parse(v) : v)

const sessionOf = (r: Raw<SessionRow>): SessionRow => ({
  ...(r as unknown as SessionRow),
  snapshot: json(r.snapshot) as SessionRow["snapshot"],
  runtime: r.runtime === null ? null : json(r.runtime) as SessionRow["runtime"],
  isAlive: r.isAlive === true || r.isAlive === 1
})

const make = (engine: Engine) => Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const read = yield* ReadSql
  const bool = (b: boolean) => (engine === "pg" ? b : b ? 1 : 0)

  const projectColumns = (q: SqlClient.SqlClient) =>
    q`id, name, repo_path AS "repoPath", origin_url AS "originUrl", created_at AS "createdAt", archived_at AS "archivedAt"`
  const sessionColumns = (q: SqlClient.SqlClient) =>
    q`id, project_id AS "projectId", n, state, snapshot, is_alive AS "isAlive", termination_reason AS "terminationReason",
      termination_detail AS "terminationDetail", agent, branch, workspace_path AS "workspacePath",
      agent_endpoint AS "agentEndpoint", runtime, version, created_at AS "createdAt", updated_at AS "updatedAt", ended_at AS "endedAt"`
  const prColumns = (q: SqlClient.SqlClient) =>
    q`url, session_id AS "sessionId", project_id AS "projectId", number, state, review_decision AS "reviewDecision",
      mergeability, ci_state AS "ciState", head_sha AS "headSha", head_branch AS "headBranch", failed_runs AS "failedRuns",
      created_at AS "createdAt", updated_at AS "updatedAt"`
  const checkColumns = (q: SqlClient.SqlClient) =>
    q`pr_url AS "prUrl", head_sha AS "headSha", name, session_id AS "sessionId", project_id AS "projectId", status, conclusion,
      details_url AS "detailsUrl", failed_step AS "failedStep", log_excerpt AS "logExcerpt", updated_at AS "updatedAt"`

  const insertProjectInTx = (row: Omit<ProjectRow, "archivedAt">) =>
    Effect.map(sql`INSERT INTO projects (id, name, repo_path, origin_url, created_at)
                   VALUES (${row.id}, ${row.name}, ${row.repoPath}, ${row.originUrl}, ${row.createdAt})
                   ON CONFLICT (id) DO NOTHING RETURNING id`, (r) => r.length > 0)

  const archiveProjectInTx = (id: string, now: number) =>
    Effect.map(sql`UPDATE projects SET archived_at = ${now} WHERE id = ${id} AND archived_at IS NULL RETURNING id`, (r) => r.length > 0)

  const project = (id: string) =>
    Effect.map(read<ProjectRow>`SELECT ${projectColumns(read)} FROM projects WHERE id = ${id}`, (r) => r[0])

  const projects = (options: { readonly archived: boolean }) =>
    read<ProjectRow>`SELECT ${projectColumns(read)} FROM projects
                     ${options.archived ? read`` : read`WHERE archived_at IS NULL`} ORDER BY id`

  const takeSessionNumberInTx = (projectId: string) =>
    Effect.map(sql<{ n: number }>`UPDATE projects SET next_session = next_session + 1
                                  WHERE id = ${projectId} AND archived_at IS NULL RETURNING next_session - 1 AS n`, (r) => r[0]?.n)

  const insertSessionInTx = (row: SessionRow) =>
    sql`INSERT INTO sessions (id, project_id, n, state, snapshot, is_alive, termination_reason, termination_detail, agent,
                              branch, workspace_path, agent_endpoint, runtime, version, created_at, updated_at, ended_at)
        VALUES (${row.id}, ${row.projectId}, ${row.n}, ${row.state}, ${JSON.stringify(row.snapshot)}, ${bool(row.isAlive)},
                ${row.terminationReason}, ${row.terminationDetail}, ${row.agent}, ${row.branch}, ${row.workspacePath},
                ${row.agentEndpoint}, ${row.runtime === null ? null : JSON.stringify(row.runtime)}, ${row.version},
                ${row.createdAt}, ${row.updatedAt}, ${row.endedAt})`.pipe(Effect.asVoid)

  const sessionForUpdateInTx = (id: string) =>
    Effect.map(sql<Raw<SessionRow>>`SELECT ${sessionColumns(sql)} FROM sessions WHERE id = ${id}
                                    ${engine === "pg" ? sql`FOR UPDATE` : sql``}`, (r) => (r[0] === undefined ? undefined : sessionOf(r[0])))

  const updateSessionInTx = (row: SessionRow) =>
    Effect.map(sql`UPDATE sessions SET state = ${row.state}, snapshot = ${JSON.stringify(row.snapshot)}, is_alive = ${bool(row.isAlive)},
                     termination_reason = ${row.terminationReason}, termination_detail = ${row.terminationDetail},
                     version = ${row.version}, updated_at = ${row.updatedAt}, ended_at = ${row.endedAt}
                   WHERE id = ${row.id} AND version = ${row.version - 1} RETURNING id`, (r) => r.length > 0)

  const session = (id: string) =>
    Effect.map(read<Raw<SessionRow>>`SELECT ${sessionColumns(read)} FROM sessions WHERE id = ${id}`,
      (r) => (r[0] === undefined ? undefined : sessionOf(r[0])))

  const sessions = (filter: SessionFilter) =>
    Effect.map(read<Raw<SessionRow>>`SELECT ${sessionColumns(read)} FROM sessions WHERE 1 = 1
      ${filter.projectId !== undefined ? read`AND project_id = ${filter.projectId}` : read``}
      ${filter.state !== undefined ? read`AND state = ${filter.state}` : read``}
      ${filter.alive !== undefined ? read`AND is_alive = ${bool(filter.alive)}` : read``}
      ORDER BY created_at DESC, id DESC LIMIT ${filter.limit}`, (r) => r.map(sessionOf))

  const liveSessionsWithRuntime = Effect.map(
    read<Raw<SessionRow>>`SELECT ${sessionColumns(read)} FROM sessions WHERE is_alive = ${bool(true)} AND runtime IS NOT NULL ORDER BY id`,
    (r) => r.map(sessionOf))

  const sessionsOnBranch = (branch: string) =>
    Effect.map(sql<Raw<SessionRow>>`SELECT ${sessionColumns(sql)} FROM sessions WHERE branch = ${branch}
                                    ORDER BY created_at DESC, id DESC`, (r) => r.map(sessionOf))

  const pullRequestInTx = (url: string) =>
    Effect.map(sql<PullRequestRow>`SELECT ${prColumns(sql)} FROM pull_requests WHERE url = ${url}`, (r) => r[0])
  const pullRequest = (url: string) =>
    Effect.map(read<PullRequestRow>`SELECT ${prColumns(read)} FROM pull_requests WHERE url = ${url}`, (r) => r[0])
  const pullRequestsOf = (sessionId: string) =>
    read<PullRequestRow>`SELECT ${prColumns(read)} FROM pull_requests WHERE session_id = ${sessionId} ORDER BY created_at, url`

  const upsertPullRequestInTx = (p: PullRequestRow) =>
    sql`INSERT INTO pull_requests (url, session_id, project_id, number, state, review_decision, mergeability, ci_state,
                                   head_sha, head_branch, failed_runs, created_at, updated_at)
        VALUES (${p.url}, ${p.sessionId}, ${p.projectId}, ${p.number}, ${p.state}, ${p.reviewDecision}, ${p.mergeability},
                ${p.ciState}, ${p.headSha}, ${p.headBranch}, ${p.failedRuns}, ${p.createdAt}, ${p.updatedAt})
        ON CONFLICT (url) DO UPDATE SET number = excluded.number, state = excluded.state,
          review_decision = excluded.review_decision, mergeability = excluded.mergeability, ci_state = excluded.ci_state,
          head_sha = excluded.head_sha, head_branch = excluded.head_branch, failed_runs = excluded.failed_runs,
          updated_at = excluded.updated_at`.pipe(Effect.asVoid)

  // The WHERE of the upsert keeps an unchanged check unwritten: no trigger, no change_log row.
  const upsertChecksInTx = (rows: ReadonlyArray<CheckRow>) =>
    Effect.forEach(rows, (c) =>
      sql`INSERT INTO pr_checks (pr_url, head_sha, name, session_id, project_id, status, conclusion, details_url,
                                 failed_step, log_excerpt, created_at, updated_at)
          VALUES (${c.prUrl}, ${c.headSha}, ${c.name}, ${c.sessionId}, ${c.projectId}, ${c.status}, ${c.conclusion},
                  ${c.detailsUrl}, ${c.failedStep}, ${c.logExcerpt}, ${c.updatedAt}, ${c.updatedAt})
          ON CONFLICT (pr_url, head_sha, name) DO UPDATE SET status = excluded.status, conclusion = excluded.conclusion,
            details_url = excluded.details_url, failed_step = excluded.failed_step, log_excerpt = excluded.log_excerpt,
            updated_at = excluded.updated_at
          WHERE pr_checks.status IS DISTINCT FROM excluded.status OR pr_checks.conclusion IS DISTINCT FROM excluded.conclusion
             OR pr_checks.details_url IS DISTINCT FROM excluded.details_url OR pr_checks.failed_step IS DISTINCT FROM excluded.failed_step
             OR pr_checks.log_excerpt IS DISTINCT FROM excluded.log_excerpt`, { discard: true })

  const checksQuery = (q: SqlClient.SqlClient, prUrl: string) =>
    q<CheckRow>`SELECT ${checkColumns(q)} FROM pr_checks WHERE pr_url = ${prUrl} ORDER BY created_at, head_sha, name`
  const checksOfInTx = (prUrl: string) => checksQuery(sql, prUrl)
  const checksOf = (prUrl: string) => checksQuery(read, prUrl)

  const insertCommentsInTx = (rows: ReadonlyArray<CommentRow>) =>
    Effect.map(
      Effect.forEach(rows, (c) =>
        sql<{ id: string }>`INSERT INTO pr_comments (pr_url, id, session_id, author, body, path, line, created_at)
                            VALUES (${c.prUrl}, ${c.id}, ${c.sessionId}, ${c.author}, ${c.body}, ${c.path}, ${c.line}, ${c.createdAt})
                            ON CONFLICT (pr_url, id) DO NOTHING RETURNING id`),
      (inserted) => new Set(inserted.flat().map((r) => r.id)))

  const spendBudgetInTx = (sessionId: string, key: string, notificationId: string | null, now: number) =>
    Effect.map(sql<{ spent: number }>`
      INSERT INTO reaction_budgets (session_id, key, spent, last_notification_id, updated_at)
      VALUES (${sessionId}, ${key}, 1, ${notificationId}, ${now})
      ON CONFLICT (session_id, key) DO UPDATE SET spent = reaction_budgets.spent + 1,
        last_notification_id = excluded.last_notification_id, updated_at = excluded.updated_at
      RETURNING spent`, (r) => r[0]!.spent - 1)

  const budgetsOf = (sessionId: string) =>
    read<{ key: string; spent: number; lastNotificationId: string | null }>`
      SELECT key, spent, last_notification_id AS "lastNotificationId" FROM reaction_budgets WHERE session_id = ${sessionId} ORDER BY key`

  const recordGithubDeliveryInTx = (g: GithubDeliveryRow) =>
    Effect.map(sql`INSERT INTO github_deliveries (delivery_id, event, action, outcome, reason, session_id, project_id, received_at)
                   VALUES (${g.deliveryId}, ${g.event}, ${g.action}, ${g.outcome}, ${g.reason}, ${g.sessionId}, ${g.projectId}, ${g.receivedAt})
                   ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id`, (r) => r.length > 0)

  const githubDeliverySeenInTx = (deliveryId: string) =>
    Effect.map(sql`SELECT 1 AS seen FROM github_deliveries WHERE delivery_id = ${deliveryId}`, (r) => r.length > 0)

  return {
    insertProjectInTx, archiveProjectInTx, project, projects, takeSessionNumberInTx, insertSessionInTx,
    sessionForUpdateInTx, updateSessionInTx, session, sessions, liveSessionsWithRuntime, sessionsOnBranch,
    pullRequestInTx, pullRequest, pullRequestsOf, upsertPullRequestInTx, upsertChecksInTx, checksOfInTx, checksOf,
    insertCommentsInTx, spendBudgetInTx, budgetsOf, githubDeliverySeenInTx, recordGithubDeliveryInTx
  } as const
})

/** SessionStore on SQLite. */
export const sqliteSessionStore = Layer.effect(SessionStore, make("sqlite"))
/** SessionStore on PostgreSQL. */
export const pgSessionStore = Layer.effect(SessionStore, make("pg"))
