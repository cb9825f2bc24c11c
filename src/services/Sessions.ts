/**
 * The sessions commands, beside Herald: projects, sessions and their observations (PR facts
 * with checks and comments, liveness, activity, termination). Each observation is one
 * transaction: the session row (locked), the PR facts, the machine's step and the
 * notifications its reactions enqueue, so a failure leaves nothing and a restart repeats
 * nothing. One session's observations apply one at a time, in arrival order.
 */
import { Clock, Effect } from "effect"
import { decodeInput } from "../domain/decode.js"
import {
  ActivityObservation, type CiState, ciStateOf, isFailedConclusion, LivenessObservation, PrObservation, ProjectInput,
  SessionInput, sessionIdOf, TerminateInput, type ProjectId
} from "../domain/Session.js"
import { ProjectArchived, ProjectExists, ProjectNotFound, PullRequestOwned, SessionNotFound } from "../domain/sessionErrors.js"
import { makeKeyedMutex } from "../lib/KeyedMutex.js"
import { initialSession, type SessionEvent, type SessionContext, type SessionValue, step } from "../machines/session.js"
import { type CheckRow, type PullRequestRow, SessionStore, type SessionRow } from "../store/SessionStore.js"
import { Writer } from "../store/Writer.js"
import { Enqueuer } from "./Enqueuer.js"
import { failingStreak } from "./sessions/ciHistory.js"
import { reactionOf } from "./sessions/reactions.js"
import { type SessionDetail, sessionView, type SessionView } from "./sessions/views.js"

const decodeProject = decodeInput(ProjectInput, "project")
const decodeSession = decodeInput(SessionInput, "session")
const decodePr = decodeInput(PrObservation, "pull request observation")
const decodeLiveness = decodeInput(LivenessObservation, "liveness observation")
const decodeActivity = decodeInput(ActivityObservation, "activity observation")
const decodeTerminate = decodeInput(TerminateInput, "termination")

export class Sessions extends Effect.Service<Sessions>()("herald/Sessions", {
  effect: Effect.gen(function* () {
    const store = yield* SessionStore
    const writer = yield* Writer
    const enqueuer = yield* Enqueuer
    const oneAtATime = yield* makeKeyedMutex

    const createProject = Effect.fn("Sessions.createProject")(function* (input: unknown) {
      const p = yield* decodeProject(input)
      const now = yield* Clock.currentTimeMillis
      const row = { id: p.id, name: p.name, repoPath: p.repoPath ?? null, originUrl: p.originUrl ?? null, createdAt: now }
      if (!(yield* writer.transaction(store.insertProjectInTx(row)))) return yield* new ProjectExists({ projectId: p.id })
      return { ...row, archivedAt: null }
    })

    const projects = (options: { readonly archived?: boolean } = {}) => store.projects({ archived: options.archived ?? false })

    const project = Effect.fn("Sessions.project")(function* (id: string) {
      return (yield* store.project(id)) ?? (yield* new ProjectNotFound({ projectId: id }))
    })

    /** Archives it (a second archive answers it as it is); its sessions stay readable. */
    const archiveProject = Effect.fn("Sessions.archiveProject")(function* (id: string) {
      const now = yield* Clock.currentTimeMillis
      yield* project(id)
      yield* writer.transaction(store.archiveProjectInTx(id, now))
      return yield* project(id)
    })

    const createSession = Effect.fn("Sessions.createSession")(function* (input: unknown) {
      const s = yield* decodeSession(input)
      const now = yield* Clock.currentTimeMillis
      const snapshot = initialSession()
      const row = yield* writer.transaction(Effect.gen(function* () {
        const n = yield* store.takeSessionNumberInTx(s.projectId)
        if (n === undefined) {
          const p = yield* store.project(s.projectId)
          return yield* (p === undefined ? new ProjectNotFound({ projectId: s.projectId }) : new ProjectArchived({ projectId: s.projectId }))
        }
        const row: SessionRow = {
          id: sessionIdOf(s.projectId as ProjectId, n), projectId: s.projectId, n, state: "spawning",
          snapshot: { value: snapshot.value, context: snapshot.context }, isAlive: true, terminationReason: null,
          terminationDetail: null, agent: s.agent ?? null, branch: s.branch ?? null, workspacePath: s.workspacePath ?? null,
          agentEndpoint: s.agentEndpoint ?? null, runtime: s.runtime ?? null, version: 0, createdAt: now, updatedAt: now, endedAt: null
        }
        yield* store.insertSessionInTx(row)
        return row
      }))
      return sessionView(row)
    })

    /**
     * Inside the observation's transaction: steps the machine, enqueues what its reactions ask
     * for (each spending its budget, whose count makes the dedupe key) and writes the row.
     */
    const apply = (row: SessionRow, event: SessionEvent) =>
      Effect.gen(function* () {
        const stepped = step(row.snapshot as { value: SessionValue; context: SessionContext }, event, row.id)
        if (stepped._tag !== "Stepped") return yield* stepped
        for (const action of stepped.actions) {
          const reaction = reactionOf(row.id, action)
          if (reaction === null) continue
          const spent = yield* store.spendBudgetInTx(row.id, reaction.budgetKey, null, event.now)
          if (reaction.once === true && spent > 0) continue
          yield* enqueuer.enqueue({
            ...reaction.notification, projectId: row.projectId, sessionId: row.id,
            dedupeKey: `session:${row.id}:${reaction.budgetKey}:${spent}`
          }).pipe(Effect.catchTags({ InvalidInput: Effect.die, Overloaded: Effect.die }))
        }
        if (!stepped.changed) return row
        const ended = stepped.context.terminationReason !== null
        const next: SessionRow = {
          ...row, state: stepped.state, snapshot: { value: stepped.value, context: stepped.context },
          isAlive: stepped.context.isAlive, terminationReason: stepped.context.terminationReason,
          terminationDetail: stepped.context.terminationDetail, version: row.version + 1, updatedAt: event.now,
          endedAt: ended ? (row.endedAt ?? event.now) : null
        }
        // Locked (PostgreSQL) or the only writer (SQLite): the version cannot have moved.
        if (!(yield* store.updateSessionInTx(next))) return yield* Effect.dieMessage(`session ${row.id} changed under its lock`)
        return next
      })

    /** One observation of a session: in its turn, in one transaction, from the row as it is now. */
    const observe = <A, E>(id: string, body: (row: SessionRow, now: number) => Effect.Effect<A, E>) => {
      const once = writer.transaction(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const row = yield* store.sessionForUpdateInTx(id)
        if (row === undefined) return yield* new SessionNotFound({ sessionId: id })
        return yield* body(row, now)
      }))
      // Inside a caller's transaction (the GitHub intake's) that transaction already orders it
      // (SQLite's one writer, PostgreSQL's row lock); waiting for the key there would deadlock
      // with an observation that holds the key and waits for the writer.
      return Effect.flatMap(writer.inTransaction, (nested) => (nested ? once : oneAtATime(id, once)))
    }

    const observePr = Effect.fn("Sessions.observePr")(function* (id: string, input: unknown) {
      const o = yield* decodePr(input)
      return yield* observe(id, (row, now) => Effect.gen(function* () {
        const stored = yield* store.pullRequestInTx(o.url)
        if (stored !== undefined && stored.sessionId !== row.id) {
          return yield* new PullRequestOwned({ url: o.url, sessionId: row.id, ownerId: stored.sessionId })
        }
        const checks: Array<CheckRow> = o.checks.map((c) => ({
          prUrl: o.url, headSha: o.headSha, name: c.name, sessionId: row.id, projectId: row.projectId, status: c.status,
          conclusion: c.conclusion ?? null, detailsUrl: c.detailsUrl ?? null, failedStep: c.failedStep ?? null,
          logExcerpt: c.logExcerpt ?? null, updatedAt: now
        }))
        // The history as it will be once these checks are written (each replaces its name at the head commit).
        const written = new Set(checks.map((c) => c.name))
        const before = stored === undefined ? [] : yield* store.checksOfInTx(o.url)
        const history = [...before.filter((c) => c.headSha !== o.headSha || !written.has(c.name)), ...checks]
        const atHead = history.filter((c) => c.headSha === o.headSha)
        const ciState: CiState = ciStateOf(atHead.map((c) => ({ status: c.status, conclusion: c.conclusion ?? undefined })))
        const failedRuns = failingStreak(history)
        const base: PullRequestRow = {
          url: o.url, sessionId: row.id, projectId: row.projectId, number: o.number, state: o.state,
          reviewDecision: o.reviewDecision ?? stored?.reviewDecision ?? null, mergeability: o.mergeability ?? stored?.mergeability ?? null,
          ciState, headSha: o.headSha, headBranch: o.headBranch ?? stored?.headBranch ?? null,
          failedRuns, createdAt: stored?.createdAt ?? now, updatedAt: now
        }
        // The PR row first (one write): checks and comments refer to it.
        yield* store.upsertPullRequestInTx(base)
        yield* store.upsertChecksInTx(checks)
        const fresh = yield* store.insertCommentsInTx(o.comments.map((c) => ({
          prUrl: o.url, id: c.id, sessionId: row.id, author: c.author, body: c.body, path: c.path ?? null, line: c.line ?? null, createdAt: now
        })))
        return yield* apply(row, {
          type: "PR_OBSERVED", now,
          pr: {
            url: o.url, state: o.state, reviewDecision: base.reviewDecision, mergeability: base.mergeability, headSha: o.headSha,
            ciState, failedRuns,
            failingChecks: atHead.filter((c) => c.status === "completed" && isFailedConclusion(c.conclusion))
              .map((c) => ({ name: c.name, detailsUrl: c.detailsUrl, failedStep: c.failedStep, logExcerpt: c.logExcerpt }))
          },
          newComments: o.comments.filter((c) => fresh.has(c.id))
            .map((c) => ({ id: c.id, author: c.author, body: c.body, path: c.path ?? null, line: c.line ?? null }))
        })
      })).pipe(Effect.flatMap(detail))
    })

    /** `cause`: a liveness report (the API, the library) or the reaper's finding. */
    const observeLiveness = Effect.fn("Sessions.observeLiveness")(function* (id: string, input: unknown, cause: "observed" | "reaper" = "observed") {
      const o = yield* decodeLiveness(input)
      return yield* observe(id, (row, now) => apply(row, { type: "LIVENESS", now, alive: o.alive, reason: o.reason ?? null, cause }))
        .pipe(Effect.flatMap(detail))
    })

    const observeActivity = Effect.fn("Sessions.observeActivity")(function* (id: string, input: unknown) {
      const o = yield* decodeActivity(input)
      return yield* observe(id, (row, now) => apply(row, { type: "ACTIVITY", now, kind: o.kind })).pipe(Effect.flatMap(detail))
    })

    const terminate = Effect.fn("Sessions.terminate")(function* (id: string, input: unknown) {
      const o = yield* decodeTerminate(input)
      return yield* observe(id, (row, now) => apply(row, { type: "TERMINATE", now, reason: o.reason })).pipe(Effect.flatMap(detail))
    })

    /** A message to the session's agent was given up (its delivery is dead): a human is paged. */
    const agentMessageDead = Effect.fn("Sessions.agentMessageDead")(function* (id: string, deliveryId: string, messageKind: string) {
      return yield* observe(id, (row, now) => apply(row, { type: "AGENT_MESSAGE_DEAD", now, deliveryId, messageKind }))
    })

    /** The session with its pull requests (CI at the head commit, the failing streak) and the reactions it spent. */
    const detail = (row: SessionRow): Effect.Effect<SessionDetail, never> =>
      Effect.gen(function* () {
        const prs = yield* store.pullRequestsOf(row.id)
        const pullRequests = yield* Effect.forEach(prs, (p) =>
          Effect.map(store.checksOf(p.url), (checks) => ({
            url: p.url, number: p.number, state: p.state, reviewDecision: p.reviewDecision, mergeability: p.mergeability,
            ciState: p.ciState, headSha: p.headSha, failedRuns: p.failedRuns,
            checks: checks.filter((c) => c.headSha === p.headSha).map((c) => ({
              name: c.name, status: c.status, conclusion: c.conclusion, detailsUrl: c.detailsUrl, failedStep: c.failedStep, logExcerpt: c.logExcerpt
            }))
          })))
        const reactions = yield* store.budgetsOf(row.id)
        return { ...sessionView(row), pullRequests, reactions: reactions.map((r) => ({ key: r.key, spent: r.spent })) }
      }).pipe(Effect.orDie)

    const get = Effect.fn("Sessions.get")(function* (id: string) {
      const row = yield* store.session(id)
      if (row === undefined) return yield* new SessionNotFound({ sessionId: id })
      return yield* detail(row)
    })

    const list = Effect.fn("Sessions.list")(function* (filter: { readonly projectId?: string; readonly state?: string; readonly alive?: boolean; readonly limit?: number } = {}) {
      const rows = yield* store.sessions({ ...filter, limit: Math.min(filter.limit ?? 100, 1_000) })
      return rows.map(sessionView) as ReadonlyArray<SessionView>
    })

    return {
      createProject, projects, project, archiveProject, createSession, observePr, observeLiveness, observeActivity,
      terminate, agentMessageDead, get, list
    } as const
  })
}) {}
