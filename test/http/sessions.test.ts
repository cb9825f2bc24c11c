/**
 * The sessions API over real HTTP: the JSON shapes the issue fixed, problem+json errors that name
 * the field and change nothing, and the feed's session events filtered by project and session.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { call, eventually, openSse, testServer } from "./support.js"

const prUrl = "https://github.com/acme/api/pull/3"

layer(testServer(), { excludeTestServices: true })("sessions over HTTP", (it) => {
  it.effect("projects and sessions: create, list, get, observe a PR, terminate; ids are {project}-{n}", () =>
    Effect.gen(function* () {
      const project = yield* call("POST", "/v1/projects", { body: { id: "api", name: "API", repoPath: "/src/api", originUrl: "git@github.com:acme/api.git" } })
      expect(project.status).toBe(201)
      expect(project.body).toMatchObject({ id: "api", name: "API", archivedAt: null })
      expect((yield* call("POST", "/v1/projects", { body: { id: "api", name: "again" } })).status).toBe(409)
      const s1 = yield* call("POST", "/v1/sessions", { body: { projectId: "api", agent: "claude", branch: "fix/bug" } })
      expect(s1.status).toBe(201)
      expect(s1.body).toMatchObject({ id: "api-1", state: "spawning", isAlive: true, agent: "claude", branch: "fix/bug" })
      expect((yield* call("POST", "/v1/sessions", { body: { projectId: "api" } })).body).toMatchObject({ id: "api-2" })

      const observed = yield* call("POST", "/v1/sessions/api-1/observations/pr", {
        body: {
          url: prUrl, number: 3, state: "open", reviewDecision: "review_required", mergeability: "mergeable", headSha: "abc123",
          checks: [{ name: "build", status: "completed", conclusion: "failure", failedStep: "tsc", logExcerpt: "TS2345", detailsUrl: "https://ci/1" }],
          comments: [{ id: 1, author: "rev", body: "please add a test", path: "src/x.ts", line: 9 }]
        }
      })
      expect(observed.status).toBe(200)
      expect(observed.body).toMatchObject({
        id: "api-1", projectId: "api", state: "ci_failed", isAlive: true, terminationReason: null,
        pullRequests: [{ url: prUrl, state: "open", reviewDecision: "review_required", mergeability: "mergeable", ciState: "failed", failedRuns: 1,
          checks: [{ name: "build", status: "completed", conclusion: "failure", failedStep: "tsc" }] }]
      })
      // What the session caused: the agent told of the failure and of the comment (and, with no
      // agent sink in these settings, a page for each message that could not go).
      const caused = yield* call("GET", "/v1/notifications?session=api-1")
      const kinds = (caused.body as { items: Array<{ kind: string }> }).items.map((n) => n.kind)
      expect(kinds.filter((k) => k === "session.agent_message")).toHaveLength(2)
      expect(kinds.every((k) => k === "session.agent_message" || k === "session.agent_unreachable")).toBe(true)

      const listed = yield* call("GET", "/v1/sessions?project=api&state=ci_failed&alive=true")
      expect((listed.body as { items: Array<{ id: string }> }).items.map((s) => s.id)).toEqual(["api-1"])
      const activity = yield* call("POST", "/v1/sessions/api-1/observations/activity", { body: { kind: "edit", detail: "fixing the build" } })
      expect(activity.body).toMatchObject({ state: "fixing" })
      const ended = yield* call("POST", "/v1/sessions/api-1/terminate", { body: { reason: "operator stopped it" } })
      expect(ended.body).toMatchObject({ state: "killed", isAlive: false, terminationReason: "killed", terminationDetail: "operator stopped it" })
      const gone = yield* call("POST", "/v1/sessions/api-2/observations/liveness", { body: { alive: false, reason: "exit code 1" } })
      expect(gone.body).toMatchObject({ state: "died", isAlive: false, terminationReason: "agent_exited" })
      expect((yield* call("GET", "/v1/sessions/api-2")).body).toMatchObject({ id: "api-2", state: "died" })
      expect((yield* call("DELETE", "/v1/projects/api")).body).toMatchObject({ id: "api", archivedAt: expect.any(Number) })
      expect((yield* call("GET", "/v1/projects")).body).toEqual({ items: [] })
      expect(((yield* call("GET", "/v1/projects?archived=true")).body as { items: Array<{ id: string }> }).items.map((p) => p.id)).toEqual(["api"])
    }))

  it.effect("bad observations get a problem naming the field (or the session) and change nothing", () =>
    Effect.gen(function* () {
      yield* call("POST", "/v1/projects", { body: { id: "web", name: "Web" } })
      yield* call("POST", "/v1/sessions", { body: { projectId: "web" } })
      yield* call("POST", "/v1/sessions", { body: { projectId: "web" } })
      const before = (yield* call("GET", "/v1/sessions/web-1")).body
      const unknown = yield* call("POST", "/v1/sessions/web-9/observations/liveness", { body: { alive: false } })
      expect(unknown.status).toBe(404)
      expect(unknown.body).toMatchObject({ code: "SessionNotFound", detail: "no session with id web-9" })
      const malformed = yield* call("POST", "/v1/sessions/web-1/observations/pr", {
        body: { url: "https://github.com/acme/web/pull/1", number: 1, state: "open", headSha: "a", checks: [{ name: "t", status: "completed" }] }
      })
      expect(malformed.status).toBe(400)
      expect(malformed.body).toMatchObject({ code: "InvalidInput", path: "checks.0.conclusion" })
      const badUrl = yield* call("POST", "/v1/sessions/web-1/observations/pr", { body: { url: "not a url", number: 1, state: "open", headSha: "a" } })
      expect(badUrl.body).toMatchObject({ code: "InvalidInput", path: "url" })
      const typo = yield* call("POST", "/v1/sessions/web-1/observations/liveness", { body: { alive: false, raeson: "x" } })
      expect(typo.status).toBe(400)
      yield* call("POST", "/v1/sessions/web-2/observations/pr", { body: { url: "https://github.com/acme/web/pull/2", number: 2, state: "open", headSha: "b" } })
      const owned = yield* call("POST", "/v1/sessions/web-1/observations/pr", { body: { url: "https://github.com/acme/web/pull/2", number: 2, state: "merged", headSha: "b" } })
      expect(owned.status).toBe(409)
      expect(owned.body).toMatchObject({ code: "PullRequestOwned", ownerId: "web-2" })
      const noProject = yield* call("POST", "/v1/sessions", { body: { projectId: "nope" } })
      expect(noProject).toMatchObject({ status: 404, body: { code: "ProjectNotFound" } })
      expect((yield* call("GET", "/v1/sessions/web-1")).body).toEqual(before)
      expect((yield* call("GET", "/v1/sessions/web-2")).body).toMatchObject({ state: "pr_open" })
    }))

  it.effect("the change feed carries session, PR and check events, filtered by ?session= and ?project=", () =>
    Effect.gen(function* () {
      yield* call("POST", "/v1/projects", { body: { id: "feed", name: "Feed" } })
      yield* call("POST", "/v1/projects", { body: { id: "other", name: "Other" } })
      const start = ((yield* call("GET", "/v1/stats")).status, 0)
      const bySession = yield* openSse(`/v1/events?session=feed-2&after=${start}`)
      const byProject = yield* openSse(`/v1/events?project=other&entity=session&after=${start}`)
      yield* call("POST", "/v1/sessions", { body: { projectId: "feed" } })
      yield* call("POST", "/v1/sessions", { body: { projectId: "feed" } })
      yield* call("POST", "/v1/sessions", { body: { projectId: "other" } })
      yield* call("POST", "/v1/sessions/feed-2/observations/pr", {
        body: { url: "https://github.com/acme/feed/pull/1", number: 1, state: "open", headSha: "h1", checks: [{ name: "ci", status: "in_progress" }] }
      })
      yield* call("POST", "/v1/sessions/feed-2/observations/pr", {
        body: { url: "https://github.com/acme/feed/pull/1", number: 1, state: "open", headSha: "h1", checks: [{ name: "ci", status: "completed", conclusion: "failure" }] }
      })
      yield* call("POST", "/v1/sessions/feed-1/terminate", { body: { reason: "not this one" } })
      yield* call("POST", "/v1/sessions/other-1/terminate", { body: { reason: "done" } })
      const seen = yield* eventually(Effect.sync(() => bySession.changes()), (c) => c.some((e) => e.entity === "check" && e.event === "failure"))
      const brief = (c: ReadonlyArray<{ entity: string; entityId: string; event: string }>) => c.map((e) => `${e.entity}:${e.event}`)
      expect(brief(seen.filter((e) => e.entity !== "notification" && e.entity !== "delivery"))).toEqual([
        "session:created", "pull_request:created", "check:in_progress", "session:ci_running",
        "pull_request:updated", "check:failure", "session:ci_failed"
      ])
      expect(seen.every((e) => (e as unknown as { payload: { sessionId?: string } }).payload.sessionId === "feed-2")).toBe(true)
      const other = yield* eventually(Effect.sync(() => byProject.changes()), (c) => c.length >= 2)
      expect(brief(other)).toEqual(["session:created", "session:killed"])
      expect(other.map((e) => e.entityId)).toEqual(["other-1", "other-1"])
      yield* bySession.close
      yield* byProject.close
      const badEntity = yield* call("GET", "/v1/events?entity=sessions")
      expect(badEntity.status).toBe(400)
    }))
})
