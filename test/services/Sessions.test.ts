/**
 * Sessions through the library on a real database: whole lifecycles with their reactions
 * (notifications enqueued through the delivery runtime), bad observations that change nothing,
 * concurrent observations of one session, and a restart in the middle of an escalation.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { Notification } from "../../src/domain/Notification.js"
import { Herald } from "../../src/layers/Herald.js"
import { Sessions } from "../../src/services/Sessions.js"
import { agentMessageKind } from "../../src/services/sessions/reactions.js"
import { eventuallyByPoll, memorySettings, provideHerald, tempDatabase, withHerald } from "../support/herald.js"
import { receiver, whenIo } from "../support/receiver.js"

const url = "https://github.com/acme/web/pull/7"
const pr = (over: Record<string, unknown> = {}) => ({ url, number: 7, state: "open", headSha: "sha1", checks: [], comments: [], ...over })
const failing = (headSha: string) => pr({
  headSha,
  checks: [
    { name: "test", status: "completed", conclusion: "failure", failedStep: "npm test", logExcerpt: `expected 1 to be 2 at ${headSha}`, detailsUrl: `https://ci.example/${headSha}` },
    { name: "lint", status: "completed", conclusion: "success" }
  ]
})
const green = (headSha: string) => pr({ headSha, checks: [{ name: "test", status: "completed", conclusion: "success" }] })

/** What the session caused, oldest first. */
const caused = (sessionId: string) =>
  Effect.flatMap(Herald, (h) => Effect.map(h.listNotifications({ sessionId, limit: 1_000 }), (p) => [...p.items].reverse() as ReadonlyArray<Notification>))

const start = Effect.gen(function* () {
  const sessions = yield* Sessions
  yield* sessions.createProject({ id: "web", name: "Web", repoPath: "/src/web" })
  return yield* sessions.createSession({ projectId: "web", agent: "claude", branch: "feat/login", agentEndpoint: "http://127.0.0.1:9/agent" })
})

describe("Sessions", () => {
  it.scoped("a clean PR: working, CI running, review pending, approved and mergeable, merged (terminated pr_merged), with a notification for each step people care about", () =>
    withHerald(() => Effect.gen(function* () {
      const sessions = yield* Sessions
      const s = yield* start
      expect(s).toMatchObject({ id: "web-1", projectId: "web", state: "spawning", isAlive: true })
      expect((yield* sessions.observeActivity(s.id, { kind: "started" })).state).toBe("working")
      expect((yield* sessions.observePr(s.id, pr({ checks: [{ name: "test", status: "in_progress" }] }))).state).toBe("ci_running")
      const passed = yield* sessions.observePr(s.id, pr({ reviewDecision: "review_required", checks: [{ name: "test", status: "completed", conclusion: "success" }] }))
      expect(passed.state).toBe("review_pending")
      expect(passed.pullRequests).toEqual([expect.objectContaining({ url, ciState: "passed", failedRuns: 0, checks: [expect.objectContaining({ name: "test", conclusion: "success" })] })])
      expect((yield* sessions.observePr(s.id, pr({ reviewDecision: "approved", mergeability: "mergeable", checks: [{ name: "test", status: "completed", conclusion: "success" }] }))).state).toBe("mergeable")
      const merged = yield* sessions.observePr(s.id, pr({ state: "merged", reviewDecision: "approved", mergeability: "mergeable" }))
      expect(merged).toMatchObject({ state: "merged", terminationReason: "pr_merged" })
      expect((yield* caused(s.id)).map((n) => [n.kind, n.priority])).toEqual([["session.approved", "normal"], ["session.pr_merged", "low"]])
      // Merged is final: an open PR observed afterwards is refused and changes nothing.
      const refused = yield* Effect.flip(sessions.observePr(s.id, pr()))
      expect(refused._tag).toBe("SessionTransitionRefused")
      expect(refused.message).toContain("merged is final")
      expect((yield* sessions.get(s.id)).state).toBe("merged")
    })))

  it.scoped("the CI-fix loop: the agent is told what failed twice, the third failed run pages a human once, a green run re-arms it", () =>
    withHerald(() => Effect.gen(function* () {
      const sessions = yield* Sessions
      const s = yield* start
      yield* sessions.observePr(s.id, failing("sha1"))
      yield* sessions.observePr(s.id, failing("sha1")) // the same poll again: nothing new
      yield* sessions.observeActivity(s.id, { kind: "fixing" })
      yield* sessions.observePr(s.id, failing("sha2"))
      const third = yield* sessions.observePr(s.id, failing("sha3"))
      expect(third.pullRequests[0]!.failedRuns).toBe(3)
      yield* sessions.observePr(s.id, failing("sha4"))
      let all = yield* caused(s.id)
      const toAgent = all.filter((n) => n.kind === agentMessageKind)
      expect(toAgent).toHaveLength(2)
      // What the agent needs to act: the failing check, its step, the log excerpt and the run URL.
      expect(toAgent[0]!.title).toContain("test")
      expect(toAgent[0]!.body).toContain('failed at step "npm test"')
      expect(toAgent[0]!.body).toContain("expected 1 to be 2 at sha1")
      expect(toAgent[0]!.body).toContain("https://ci.example/sha1")
      expect(toAgent[1]!.body).toContain("sha2")
      expect(all.filter((n) => n.kind === "session.ci_stuck").map((n) => n.priority)).toEqual(["urgent"])
      // Green re-arms: a new streak of three pages again, once.
      yield* sessions.observePr(s.id, green("sha5"))
      for (const sha of ["sha6", "sha7", "sha8"]) yield* sessions.observePr(s.id, failing(sha))
      all = yield* caused(s.id)
      expect(all.filter((n) => n.kind === agentMessageKind)).toHaveLength(4)
      expect(all.filter((n) => n.kind === "session.ci_stuck")).toHaveLength(2)
    })))

  it.scoped("each new review comment is forwarded to the agent once, across repeated identical observations", () =>
    withHerald(() => Effect.gen(function* () {
      const sessions = yield* Sessions
      const s = yield* start
      const c1 = { id: 101, author: "alice", body: "rename this", path: "src/a.ts", line: 3 }
      const c2 = { id: "102", author: "bot", body: "LGTM otherwise" }
      yield* sessions.observePr(s.id, pr({ comments: [c1] }))
      yield* sessions.observePr(s.id, pr({ comments: [c1] }))
      yield* sessions.observePr(s.id, pr({ comments: [c1, c2] }))
      yield* sessions.observePr(s.id, pr({ comments: [c2, c1] }))
      const forwarded = (yield* caused(s.id)).filter((n) => n.kind === agentMessageKind)
      expect(forwarded.map((n) => [n.title, n.body])).toEqual([
        ["Review comment by alice on src/a.ts:3 (https://github.com/acme/web/pull/7)", "rename this"],
        ["Review comment by bot (https://github.com/acme/web/pull/7)", "LGTM otherwise"]
      ])
    })))

  it.scoped("bad observations get a clear error naming the field and change nothing", () =>
    withHerald(() => Effect.gen(function* () {
      const sessions = yield* Sessions
      const s = yield* start
      const other = yield* sessions.createSession({ projectId: "web" })
      expect(other.id).toBe("web-2")
      yield* sessions.observePr(s.id, pr())
      const before = yield* sessions.get(s.id)
      const unknown = yield* Effect.flip(sessions.observePr("web-99", pr()))
      expect(unknown.message).toBe("no session with id web-99")
      const malformed = yield* Effect.flip(sessions.observePr(s.id, pr({ checks: [{ name: "test", status: "completed" }] })))
      expect(malformed).toMatchObject({ _tag: "InvalidInput", issues: [{ path: "checks.0.conclusion", message: "a completed check needs its conclusion" }] })
      const badState = yield* Effect.flip(sessions.observePr(s.id, pr({ state: "draft" })))
      expect(badState).toMatchObject({ _tag: "InvalidInput", issues: [expect.objectContaining({ path: "state" })] })
      const owned = yield* Effect.flip(sessions.observePr(other.id, pr({ state: "merged" })))
      expect(owned.message).toBe(`url: pull request ${url} belongs to session web-1, not web-2`)
      expect(yield* sessions.get(s.id)).toEqual(before)
      expect((yield* sessions.get(other.id)).pullRequests).toEqual([])
      const noProject = yield* Effect.flip(sessions.createSession({ projectId: "nope" }))
      expect(noProject._tag).toBe("ProjectNotFound")
      yield* sessions.archiveProject("web")
      expect((yield* Effect.flip(sessions.createSession({ projectId: "web" })))._tag).toBe("ProjectArchived")
      expect((yield* sessions.get(s.id)).projectId).toBe("web") // an archived project's sessions still resolve
    })))

  it.scoped("many observations of one session at once end as applying them one by one in arrival order", () =>
    Effect.gen(function* () {
      const observations = ["sha1", "sha2", "sha3", "sha4"].flatMap((sha) => [failing(sha), pr({ headSha: sha, comments: [{ id: sha, author: "r", body: sha }] })])
      const run = (concurrent: boolean) => withHerald(() => Effect.gen(function* () {
        const sessions = yield* Sessions
        const s = yield* start
        yield* Effect.forEach(observations, (o) => sessions.observePr(s.id, o), { concurrency: concurrent ? "unbounded" : 1, discard: true })
        const { updatedAt: _u, createdAt: _c, ...detail } = yield* sessions.get(s.id)
        return { detail, caused: (yield* caused(s.id)).map((n) => [n.kind, n.title]) }
      }), { background: false }) // no dispatcher: what the observations enqueued stays as they left it
      expect(yield* run(true)).toEqual(yield* run(false))
    }))

  it.scoped("messages to the agent are signed deliveries to its endpoint; one that goes dead pages a human, once", () =>
    Effect.gen(function* () {
      const agent = yield* receiver(() => ({ status: 503, body: "agent down" }))
      const settings = {
        ...memorySettings,
        sinks: { mem: { type: "memory" }, agent: { type: "agent", secret: `whsec_${Buffer.from("a-secret-of-24-bytes-long").toString("base64")}`, allowPrivateNetwork: true, retry: { maxAttempts: 2, baseMs: 1_000, factor: 1, capMs: 1_000 } } },
        routes: [{ sink: "mem", minPriority: "low" }]
      }
      yield* withHerald((herald) => Effect.gen(function* () {
        const sessions = yield* Sessions
        yield* sessions.createProject({ id: "web", name: "Web" })
        const s = yield* sessions.createSession({ projectId: "web", agentEndpoint: `${agent.url}/agent` })
        yield* sessions.observePr(s.id, failing("sha1"))
        const [message] = (yield* caused(s.id)).filter((n) => n.kind === agentMessageKind)
        // To the agent sink only: the routes (for people) do not carry it.
        const { deliveries } = yield* herald.getNotification(message!.id)
        expect(deliveries.map((d) => d.sink)).toEqual(["agent"])
        yield* whenIo(Effect.sync(() => agent.received.length), (n) => n === 1, "the agent was called")
        expect(agent.received[0]!.path).toBe("/agent")
        expect(agent.received[0]!.headers["webhook-signature"]).toMatch(/^v1,/) // signed as webhooks are (test/sinks/agent.test.ts checks the signature)
        expect(JSON.parse(agent.received[0]!.body)).toMatchObject({ data: { notification: { kind: agentMessageKind, sessionId: s.id } } })
        yield* whenIo(herald.getDelivery(deliveries[0]!.id), (d) => d.delivery.status === "retry_wait", "the first call failed")
        yield* TestClock.adjust("2 seconds")
        yield* whenIo(herald.getDelivery(deliveries[0]!.id), (d) => d.delivery.status === "dead", "the message went dead")
        // The watcher polls the change log every feed poll (the test runtime's 50 ms, on the TestClock).
        const paged = yield* eventuallyByPoll(caused(s.id), (all) => all.some((n) => n.kind === "session.agent_unreachable"), "a human was paged", 50)
        expect(paged.filter((n) => n.kind === "session.agent_unreachable").map((n) => [n.priority, n.payload["deliveryId"]]))
          .toEqual([["urgent", deliveries[0]!.id]])
        // The page itself goes to people (the routes), not to the agent.
        const page = paged.find((n) => n.kind === "session.agent_unreachable")!
        expect((yield* herald.getNotification(page.id)).deliveries.map((d) => d.sink)).toEqual(["mem"])
        // Told again (another process watching, a restart): nobody is paged twice.
        yield* sessions.agentMessageDead(s.id, deliveries[0]!.id, "ci_failed")
        expect((yield* caused(s.id)).filter((n) => n.kind === "session.agent_unreachable")).toHaveLength(1)
      }), {}, settings)
    }))

  it.scoped("with a real agent behind its endpoint: each CI failure and review comment reaches it once, signed, with what it needs to act", () =>
    Effect.gen(function* () {
      const agent = yield* receiver(() => ({ status: 204 }))
      const settings = {
        ...memorySettings,
        sinks: { mem: { type: "memory" }, agent: { type: "agent", secret: `whsec_${Buffer.from("a-secret-of-24-bytes-long").toString("base64")}`, allowPrivateNetwork: true } },
        routes: [{ sink: "mem", minPriority: "low" }]
      }
      yield* withHerald(() => Effect.gen(function* () {
        const sessions = yield* Sessions
        yield* sessions.createProject({ id: "web", name: "Web" })
        const s = yield* sessions.createSession({ projectId: "web", agentEndpoint: `${agent.url}/hooks/agent` })
        const comment = { id: 7, author: "alice", body: "handle the empty case", path: "src/login.ts", line: 12 }
        yield* sessions.observePr(s.id, { ...failing("sha1"), comments: [comment] })
        yield* sessions.observePr(s.id, { ...failing("sha1"), comments: [comment] }) // the same poll again
        yield* sessions.observePr(s.id, { ...green("sha2"), reviewDecision: "approved", mergeability: "mergeable", comments: [comment] })
        const got = yield* whenIo(Effect.sync(() => agent.received.length), (n) => n >= 2, "both messages reached the agent")
        const bodies = agent.received.map((r) => JSON.parse(r.body) as { data: { notification: { title: string; body: string; payload: Record<string, unknown> } } })
        expect(got).toBe(2)
        expect(agent.received.every((r) => r.path === "/hooks/agent" && String(r.headers["webhook-signature"]).startsWith("v1,"))).toBe(true)
        const byKind = Object.fromEntries(bodies.map((b) => [b.data.notification.payload["messageKind"], b.data.notification]))
        expect(byKind["ci_failed"]!.body).toContain('failed at step "npm test"')
        expect(byKind["ci_failed"]!.body).toContain("https://ci.example/sha1")
        expect(byKind["review_comment"]).toMatchObject({ body: "handle the empty case", payload: { comment: { id: "7", path: "src/login.ts", line: 12 } } })
        expect((yield* sessions.get(s.id)).state).toBe("mergeable")
        // Nothing more reaches it: the deliveries were sent once each.
        yield* whenIo(caused(s.id), (all) => all.some((n) => n.kind === "session.approved"), "people were told of the approval")
        expect(agent.received).toHaveLength(2)
      }), {}, settings)
    }))

  it.scoped("a restart in the middle of an escalation neither repeats nor loses it", () =>
    Effect.gen(function* () {
      const db = yield* tempDatabase
      const settle = provideHerald(db, Effect.flatMap(Herald, (h) => h.putSettings(memorySettings)))
      yield* settle
      const id = yield* provideHerald(db, Effect.gen(function* () {
        const sessions = yield* Sessions
        const s = yield* start
        yield* sessions.observePr(s.id, failing("sha1"))
        yield* sessions.observePr(s.id, failing("sha2"))
        return s.id
      }))
      yield* provideHerald(db, Effect.gen(function* () {
        const sessions = yield* Sessions
        yield* sessions.observePr(id, failing("sha2")) // the last poll again, after the restart: nothing
        yield* sessions.observePr(id, failing("sha3"))
        yield* sessions.observePr(id, failing("sha3"))
      }))
      yield* provideHerald(db, Effect.gen(function* () {
        const sessions = yield* Sessions
        yield* sessions.observePr(id, failing("sha3"))
        const all = yield* caused(id)
        expect(all.filter((n) => n.kind === agentMessageKind)).toHaveLength(2)
        expect(all.filter((n) => n.kind === "session.ci_stuck")).toHaveLength(1)
        // (With no agent sink configured, each message to the agent is skipped, and pages too: not counted here.)
        expect((yield* sessions.get(id)).reactions.filter((r) => !r.key.startsWith("human:session.agent_unreachable"))).toEqual([
          { key: `agent:ci_failed:${url}:sha1`, spent: 1 },
          { key: `agent:ci_failed:${url}:sha2`, spent: 1 },
          { key: `human:session.ci_stuck:${url}`, spent: 1 }
        ])
      }))
    }))
})
