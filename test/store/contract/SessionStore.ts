/**
 * The SessionStore contract, run on SQLite and PostgreSQL: projects archive softly, session
 * numbers are taken once each per project, a session is written only from the version it was
 * read at, an unchanged check or PR writes nothing (no trigger, no change), comments and GitHub
 * deliveries are taken once, budgets count, and the feed rows carry project and session ids.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { type CheckRow, type PullRequestRow, SessionStore, type SessionRow } from "../../../src/store/SessionStore.js"
import { Writer } from "../../../src/store/Writer.js"
import type { Engine, Storage } from "./engines.js"

const write = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flatMap(Writer, (w) => w.transaction(effect))

const changes = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ entity: string; entityId: string; event: string; projectId: string | null; sessionId: string | null }>`
    SELECT entity, entity_id AS "entityId", event, project_id AS "projectId", session_id AS "sessionId"
    FROM change_log WHERE entity IN ('session', 'pull_request', 'check', 'github_delivery') ORDER BY seq`)

const sessionRow = (id: string, n: number, over: Partial<SessionRow> = {}): SessionRow => ({
  id, projectId: "web", n, state: "spawning", snapshot: { value: { work: "spawning", liveness: "alive" }, context: { isAlive: true } },
  isAlive: true, terminationReason: null, terminationDetail: null, agent: "claude", branch: "feat/x", workspacePath: null,
  agentEndpoint: "http://127.0.0.1:1/agent", runtime: { kind: "pid", pid: 42 }, version: 0, createdAt: 10, updatedAt: 10, endedAt: null,
  ...over
})

const pr = (over: Partial<PullRequestRow> = {}): PullRequestRow => ({
  url: "https://github.com/o/r/pull/1", sessionId: "web-1", projectId: "web", number: 1, state: "open", reviewDecision: null,
  mergeability: null, ciState: "running", headSha: "a1", headBranch: "feat/x", failedRuns: 0, createdAt: 20, updatedAt: 20, ...over
})

const check = (over: Partial<CheckRow> = {}): CheckRow => ({
  prUrl: "https://github.com/o/r/pull/1", headSha: "a1", name: "test", sessionId: "web-1", projectId: "web", status: "in_progress",
  conclusion: null, detailsUrl: null, failedStep: null, logExcerpt: null, updatedAt: 30, ...over
})

export const sessionStoreContract = (engine: Engine<SessionStore>) =>
  describe(`SessionStore on ${engine.name}`, () => {
    const test = <A, E>(name: string, body: Effect.Effect<A, E, SessionStore | Storage | Scope.Scope>) =>
      it.scoped(name, () => Effect.provide(body, engine.storage))

    const withProject = Effect.flatMap(SessionStore, (s) =>
      write(s.insertProjectInTx({ id: "web", name: "Web", repoPath: "/src/web", originUrl: null, createdAt: 1 })))

    test("projects: inserted once, archived softly (listed no more, still found by id), and an archived one takes no session", Effect.gen(function* () {
      const store = yield* SessionStore
      expect(yield* withProject).toBe(true)
      expect(yield* write(store.insertProjectInTx({ id: "web", name: "Other", repoPath: null, originUrl: null, createdAt: 2 }))).toBe(false)
      expect(yield* write(store.insertProjectInTx({ id: "api", name: "API", repoPath: null, originUrl: "git@x:api", createdAt: 3 }))).toBe(true)
      expect((yield* store.projects({ archived: false })).map((p) => p.id)).toEqual(["api", "web"])
      expect(yield* write(store.takeSessionNumberInTx("web"))).toBe(1)
      expect(yield* write(store.archiveProjectInTx("web", 5))).toBe(true)
      expect(yield* write(store.archiveProjectInTx("web", 6))).toBe(false)
      expect((yield* store.projects({ archived: false })).map((p) => p.id)).toEqual(["api"])
      expect((yield* store.projects({ archived: true })).map((p) => p.id)).toEqual(["api", "web"])
      expect(yield* store.project("web")).toEqual({ id: "web", name: "Web", repoPath: "/src/web", originUrl: null, createdAt: 1, archivedAt: 5 })
      expect(yield* write(store.takeSessionNumberInTx("web"))).toBeUndefined()
      expect(yield* write(store.takeSessionNumberInTx("nope"))).toBeUndefined()
    }))

    test("session numbers are taken once each, also by transactions running at once", Effect.gen(function* () {
      const store = yield* SessionStore
      yield* withProject
      const ns = yield* Effect.all(Array.from({ length: 12 }, () => write(store.takeSessionNumberInTx("web"))), { concurrency: "unbounded" })
      expect([...ns].sort((a, b) => a! - b!)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
    }))

    test("a session round-trips, is written only from the version it was read at, and its changes carry its ids", Effect.gen(function* () {
      const store = yield* SessionStore
      yield* withProject
      const row = sessionRow("web-1", 1)
      yield* write(store.insertSessionInTx(row))
      expect(yield* store.session("web-1")).toEqual(row)
      const read = (yield* write(store.sessionForUpdateInTx("web-1")))!
      expect(read).toEqual(row)
      const next = { ...read, state: "working", version: 1, updatedAt: 11 }
      expect(yield* write(store.updateSessionInTx(next))).toBe(true)
      expect(yield* write(store.updateSessionInTx({ ...next, state: "pr_open" }))).toBe(false) // from version 0 again: stale
      // A write that moves no watched column writes no change.
      expect(yield* write(store.updateSessionInTx({ ...next, snapshot: { value: "x", context: {} }, version: 2, updatedAt: 12 }))).toBe(true)
      const died = { ...next, version: 3, state: "died", isAlive: false, terminationReason: "runtime_gone" as const, updatedAt: 13, endedAt: 13 }
      expect(yield* write(store.updateSessionInTx(died))).toBe(true)
      expect(yield* store.session("web-1")).toMatchObject({ state: "died", isAlive: false, terminationReason: "runtime_gone", version: 3 })
      expect(yield* changes).toEqual([
        { entity: "session", entityId: "web-1", event: "created", projectId: "web", sessionId: "web-1" },
        { entity: "session", entityId: "web-1", event: "working", projectId: "web", sessionId: "web-1" },
        { entity: "session", entityId: "web-1", event: "died", projectId: "web", sessionId: "web-1" }
      ])
      expect(yield* store.liveSessionsWithRuntime).toEqual([])
    }))

    test("sessions list by project, state and liveness, newest first; the live ones with a runtime are the reaper's", Effect.gen(function* () {
      const store = yield* SessionStore
      yield* withProject
      yield* write(store.insertSessionInTx(sessionRow("web-1", 1, { createdAt: 1 })))
      yield* write(store.insertSessionInTx(sessionRow("web-2", 2, { createdAt: 2, state: "working", runtime: null })))
      yield* write(store.insertSessionInTx(sessionRow("web-3", 3, { createdAt: 3, state: "died", isAlive: false, branch: "feat/y" })))
      const ids = (f: Parameters<typeof store.sessions>[0]) => Effect.map(store.sessions(f), (r) => r.map((s) => s.id))
      expect(yield* ids({ limit: 10 })).toEqual(["web-3", "web-2", "web-1"])
      expect(yield* ids({ limit: 2 })).toEqual(["web-3", "web-2"])
      expect(yield* ids({ limit: 10, state: "working" })).toEqual(["web-2"])
      expect(yield* ids({ limit: 10, alive: false })).toEqual(["web-3"])
      expect(yield* ids({ limit: 10, alive: true, projectId: "web" })).toEqual(["web-2", "web-1"])
      expect(yield* ids({ limit: 10, projectId: "api" })).toEqual([])
      expect((yield* store.liveSessionsWithRuntime).map((s) => s.id)).toEqual(["web-1"])
      expect((yield* write(store.sessionsOnBranch("feat/x"))).map((s) => s.id)).toEqual(["web-2", "web-1"])
    }))

    test("a PR and its checks: an unchanged re-poll writes nothing; a check turning from in_progress to failure on the same commit is a change", Effect.gen(function* () {
      const store = yield* SessionStore
      yield* withProject
      yield* write(store.insertSessionInTx(sessionRow("web-1", 1)))
      const before = (yield* changes).length
      yield* write(Effect.zipRight(store.upsertPullRequestInTx(pr()), store.upsertChecksInTx([check(), check({ name: "lint" })])))
      yield* write(Effect.zipRight(store.upsertPullRequestInTx(pr({ updatedAt: 21 })), store.upsertChecksInTx([check({ updatedAt: 31 }), check({ name: "lint", updatedAt: 31 })])))
      yield* write(store.upsertChecksInTx([check({ status: "completed", conclusion: "failure", failedStep: "npm test", updatedAt: 32 })]))
      yield* write(store.upsertPullRequestInTx(pr({ ciState: "failed", failedRuns: 1, updatedAt: 33 })))
      const after = (yield* changes).slice(before)
      expect(after.map((c) => `${c.entity}:${c.event}`)).toEqual([
        "pull_request:created", "check:in_progress", "check:in_progress", "check:failure", "pull_request:updated"
      ])
      expect(after.every((c) => c.projectId === "web" && c.sessionId === "web-1")).toBe(true)
      expect(yield* store.pullRequest(pr().url)).toEqual(pr({ ciState: "failed", failedRuns: 1, updatedAt: 33 }))
      expect((yield* store.pullRequestsOf("web-1")).map((p) => p.url)).toEqual([pr().url])
      const checks = yield* store.checksOf(pr().url)
      expect(checks.map((c) => [c.name, c.status, c.conclusion, c.failedStep])).toEqual([
        ["lint", "in_progress", null, null], ["test", "completed", "failure", "npm test"]
      ])
    }))

    test("a check the schema does not allow (completed without a conclusion) is refused by its CHECK and writes nothing", Effect.gen(function* () {
      const store = yield* SessionStore
      yield* withProject
      yield* write(store.insertSessionInTx(sessionRow("web-1", 1)))
      yield* write(store.upsertPullRequestInTx(pr()))
      const failed = yield* Effect.flip(write(store.upsertChecksInTx([check({ name: "ok" }), check({ status: "completed", conclusion: null })])))
      expect(failed._tag).toBe("SqlError")
      expect(yield* store.checksOf(pr().url)).toEqual([])
    }))

    test("comments are taken once each; budgets count what was spent; a GitHub delivery id is taken once", Effect.gen(function* () {
      const store = yield* SessionStore
      yield* withProject
      yield* write(store.insertSessionInTx(sessionRow("web-1", 1)))
      yield* write(store.upsertPullRequestInTx(pr()))
      const comment = (id: string) => ({ prUrl: pr().url, id, sessionId: "web-1", author: "rev", body: `b${id}`, path: null, line: null, createdAt: 40 })
      expect([...(yield* write(store.insertCommentsInTx([comment("1"), comment("2")])))].sort()).toEqual(["1", "2"])
      expect([...(yield* write(store.insertCommentsInTx([comment("2"), comment("3")])))]).toEqual(["3"])
      expect(yield* write(store.spendBudgetInTx("web-1", "page:ci_stuck", "ntf_1", 50))).toBe(0)
      expect(yield* write(store.spendBudgetInTx("web-1", "page:ci_stuck", "ntf_2", 51))).toBe(1)
      expect(yield* store.budgetsOf("web-1")).toEqual([{ key: "page:ci_stuck", spent: 2, lastNotificationId: "ntf_2" }])
      const delivery = { deliveryId: "d-1", event: "ping", action: null, outcome: "ignored" as const, reason: "no session", sessionId: null, projectId: null, receivedAt: 60 }
      expect(yield* write(store.recordGithubDeliveryInTx(delivery))).toBe(true)
      expect(yield* write(store.recordGithubDeliveryInTx({ ...delivery, outcome: "applied" }))).toBe(false)
      expect((yield* changes).filter((c) => c.entity === "github_delivery")).toEqual([
        { entity: "github_delivery", entityId: "d-1", event: "ignored", projectId: null, sessionId: null }
      ])
    }))
  })
