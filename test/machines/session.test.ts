/** Example lifecycles of the session machine: PRs through review to merge, CI budgets, death, refusals. */
import { describe, expect, it } from "@effect/vitest"
import { SessionTransitionRefused } from "../../src/domain/errors.js"
import {
  initialSession,
  type NewComment,
  type PersistedSession,
  type PrFacts,
  restoreSession,
  type SessionEvent,
  sessionStates,
  stateOf,
  step,
  type Stepped
} from "../../src/machines/session.js"

const url = "https://github.com/acme/web/pull/7"
const pr = (over: Partial<PrFacts> = {}): PrFacts => ({
  url,
  state: "open",
  reviewDecision: null,
  mergeability: null,
  headSha: "a1",
  ciState: "pending",
  failedRuns: 0,
  failingChecks: [],
  ...over
})
const observed = (over: Partial<PrFacts> = {}, newComments: ReadonlyArray<NewComment> = []): SessionEvent => ({
  type: "PR_OBSERVED", now: 1_000, pr: pr(over), newComments
})
const failed = (headSha: string, failedRuns: number) =>
  observed({
    headSha,
    ciState: "failed",
    failedRuns,
    failingChecks: [{ name: "test", detailsUrl: null, failedStep: "npm test", logExcerpt: "1 failed" }]
  })
const passed = (headSha: string, over: Partial<PrFacts> = {}) => observed({ headSha, ciState: "passed", ...over })
const activity: SessionEvent = { type: "ACTIVITY", now: 1_000, kind: "tool_call" }
const died = (cause: "observed" | "reaper" = "observed"): SessionEvent =>
  ({ type: "LIVENESS", now: 1_000, alive: false, reason: "exit code 1", cause })
const alive: SessionEvent = { type: "LIVENESS", now: 1_000, alive: true, reason: null, cause: "observed" }
const terminate: SessionEvent = { type: "TERMINATE", now: 1_000, reason: "operator stopped it" }
const comment = (id: string): NewComment => ({ id, author: "reviewer", body: "rename this", path: "src/a.ts", line: 3 })

const ok = (r: Stepped | SessionTransitionRefused): Stepped => {
  if (r instanceof SessionTransitionRefused) throw new Error(r.message)
  return r
}
const refused = (r: Stepped | SessionTransitionRefused): SessionTransitionRefused => {
  if (!(r instanceof SessionTransitionRefused)) throw new Error(`expected a refusal, got ${r.state}`)
  return r
}
/** Runs the events in order from a new session; every step must be accepted. */
const run = (events: ReadonlyArray<SessionEvent>, from: PersistedSession = initialSession()) => {
  const steps: Array<Stepped> = []
  let s = from
  for (const e of events) {
    const r = ok(step(s, e))
    steps.push(r)
    s = r
  }
  return { last: steps[steps.length - 1]!, steps }
}
const types = (s: Stepped) => s.actions.map((a) => a.type)

describe("session machine", () => {
  it("a new session is spawning and alive with nothing observed", () => {
    const s = initialSession()
    expect(stateOf(s)).toBe("spawning")
    expect(s.value).toEqual({ work: "spawning", liveness: "alive" })
    expect(s.context).toMatchObject({ isAlive: true, terminationReason: null, prUrl: null, failedRuns: 0, paged: false })
  })

  it("a clean PR goes open, CI running, review pending, approved, mergeable and merged, notifying on approval and merge", () => {
    const { steps } = run([
      activity,
      observed(),
      observed({ ciState: "running" }),
      passed("a1", { reviewDecision: "review_required" }),
      passed("a1", { reviewDecision: "approved", mergeability: "unknown" }),
      passed("a1", { reviewDecision: "approved", mergeability: "mergeable" }),
      observed({ state: "merged" })
    ])
    expect(steps.map((s) => s.state)).toEqual([
      "working", "pr_open", "ci_running", "review_pending", "approved", "mergeable", "merged"
    ])
    expect(steps[4]!.actions).toEqual([{ type: "notifyHuman", priority: "normal", kind: "session.approved", prUrl: url }])
    // Approved then mergeable is one approval: notified once.
    expect(steps[5]!.actions).toEqual([])
    expect(steps[6]!.actions).toEqual([{ type: "notifyHuman", priority: "low", kind: "session.pr_merged", prUrl: url }])
    expect(steps[6]!.context).toMatchObject({ terminationReason: "pr_merged", prUrl: url, headSha: "a1" })
    expect(steps.every((s) => s.changed)).toBe(true)
  })

  it("changes requested notifies the human once; the agent's activity moves it to fixing, and the same facts keep it there", () => {
    const { steps } = run([
      activity,
      passed("a1", { reviewDecision: "changes_requested" }),
      passed("a1", { reviewDecision: "changes_requested" }),
      activity,
      passed("a1", { reviewDecision: "changes_requested" }),
      passed("b2", { reviewDecision: "review_required" })
    ])
    expect(steps.map((s) => s.state)).toEqual([
      "working", "changes_requested", "changes_requested", "fixing", "fixing", "review_pending"
    ])
    expect(steps[1]!.actions).toEqual([
      { type: "notifyHuman", priority: "normal", kind: "session.changes_requested", prUrl: url }
    ])
    expect(steps[2]).toMatchObject({ changed: false, actions: [] })
    expect(steps[4]).toMatchObject({ changed: false, actions: [] })
  })

  it("CI failing at three head commits messages the agent twice, then pages a human once and stops messaging", () => {
    const { steps } = run([activity, failed("a1", 1), activity, failed("b2", 2), activity, failed("c3", 3), failed("d4", 4)])
    const [, first, , second, , third, fourth] = steps
    expect(first!.state).toBe("ci_failed")
    expect(first!.actions).toEqual([{
      type: "messageAgent",
      kind: "ci_failed",
      prUrl: url,
      headSha: "a1",
      failedRuns: 1,
      checks: [{ name: "test", detailsUrl: null, failedStep: "npm test", logExcerpt: "1 failed" }]
    }])
    expect(second!.actions).toMatchObject([{ type: "messageAgent", headSha: "b2", failedRuns: 2 }])
    expect(third!.actions).toEqual([
      { type: "pageHuman", priority: "urgent", kind: "session.ci_stuck", prUrl: url, failedRuns: 3 }
    ])
    expect(third!.context.paged).toBe(true)
    expect(fourth!.actions).toEqual([])
    expect(fourth!.context).toMatchObject({ failedRuns: 4, paged: true })
  })

  it("a green run re-arms the budget: a later streak of three failures pages again", () => {
    const stuck = run([failed("a1", 1), failed("b2", 2), failed("c3", 3)]).last
    const green = ok(step(stuck, passed("d4")))
    expect(green.context).toMatchObject({ failedRuns: 0, paged: false })
    const { steps } = run([failed("e5", 1), failed("f6", 2), failed("g7", 3)], green)
    expect(steps.map(types)).toEqual([["messageAgent"], ["messageAgent"], ["pageHuman"]])
  })

  it("the same observation twice changes nothing and emits nothing the second time", () => {
    const first = run([activity, failed("a1", 1)]).last
    const again = ok(step(first, failed("a1", 1)))
    expect(again).toMatchObject({ state: "ci_failed", changed: false, actions: [] })
    expect(again.context).toEqual(first.context)
  })

  it("an open PR at a new head commit with failed CI leaves fixing for ci_failed", () => {
    const fixing = run([failed("a1", 1), activity]).last
    expect(fixing.state).toBe("fixing")
    expect(ok(step(fixing, failed("a1", 1))).state).toBe("fixing")
    expect(ok(step(fixing, failed("b2", 2))).state).toBe("ci_failed")
  })

  it("new comments are forwarded to a live agent, each once as the runtime reports them", () => {
    const s = ok(step(initialSession(), observed({}, [comment("1"), comment("2")])))
    expect(s.actions).toEqual([
      { type: "forwardComment", prUrl: url, comment: comment("1") },
      { type: "forwardComment", prUrl: url, comment: comment("2") }
    ])
  })

  it("a PR closed unmerged sends the work back to working and stops following it", () => {
    const s = run([observed(), observed({ state: "closed" })]).last
    expect(s.state).toBe("working")
    expect(s.context).toMatchObject({ prUrl: null, headSha: null })
  })

  it("another PR closing than the one followed changes nothing", () => {
    const s = run([observed({ ciState: "running" })]).last
    const other = ok(step(s, { type: "PR_OBSERVED", now: 1_000, pr: pr({ url: `${url}0`, state: "closed" }), newComments: [] }))
    expect(other).toMatchObject({ state: "ci_running", changed: false, actions: [] })
  })

  it("the agent dying notifies once and keeps PR facts moving; merged still wins the flat state", () => {
    const { steps } = run([
      failed("a1", 1),
      died(),
      died(),
      failed("b2", 2),
      observed({ headSha: "c3", ciState: "passed", reviewDecision: "approved", mergeability: "mergeable" }, [comment("9")]),
      observed({ state: "merged", headSha: "c3" })
    ])
    expect(steps.map((s) => s.state)).toEqual(["ci_failed", "died", "died", "died", "died", "merged"])
    expect(steps[1]!.actions).toEqual([{ type: "notifyHuman", priority: "high", kind: "session.died", reason: "exit code 1" }])
    expect(steps[1]!.context).toMatchObject({ isAlive: false, terminationReason: "agent_exited", terminationDetail: "exit code 1" })
    expect(steps[2]).toMatchObject({ changed: false, actions: [] })
    // No message to a dead agent: the failure and the comment reach nobody, the approval reaches the human.
    expect(steps[3]!.actions).toEqual([])
    expect(steps[3]!.value).toEqual({ work: "ci_failed", liveness: "gone" })
    expect(steps[4]!.actions).toEqual([{ type: "notifyHuman", priority: "normal", kind: "session.approved", prUrl: url }])
    expect(steps[5]!.value).toEqual({ work: "merged", liveness: "gone" })
    // The first termination wins.
    expect(steps[5]!.context.terminationReason).toBe("agent_exited")
  })

  it("the reaper finding the runtime gone ends the session as runtime_gone", () => {
    expect(ok(step(initialSession(), died("reaper"))).context.terminationReason).toBe("runtime_gone")
  })

  it("TERMINATE kills the session and stops its agent; a later exit of the agent is silent", () => {
    const killed = run([observed(), terminate]).last
    expect(killed.state).toBe("killed")
    expect(killed.actions).toEqual([{ type: "stopAgent", reason: "operator stopped it" }])
    expect(killed.context).toMatchObject({ isAlive: false, terminationReason: "killed", terminationDetail: "operator stopped it" })
    const exited = ok(step(killed, died()))
    expect(exited).toMatchObject({ state: "killed", changed: true, actions: [] })
    expect(exited.value).toEqual({ work: "killed", liveness: "gone" })
    expect(exited.context.terminationReason).toBe("killed")
  })

  it("a merged session's agent exiting is silent and keeps pr_merged", () => {
    const merged = run([observed({ state: "merged" })]).last
    const exited = ok(step(merged, died()))
    expect(exited).toMatchObject({ state: "merged", changed: true, actions: [] })
    expect(exited.context).toMatchObject({ isAlive: false, terminationReason: "pr_merged", terminationDetail: null })
  })

  it("a dead message to the agent pages a human, in any state, changing nothing", () => {
    const event: SessionEvent = { type: "AGENT_MESSAGE_DEAD", now: 1_000, deliveryId: "d-1", messageKind: "ci_failed" }
    const page = { type: "pageHuman", priority: "urgent", kind: "session.agent_unreachable", deliveryId: "d-1", messageKind: "ci_failed" }
    for (const s of [initialSession(), run([died()]).last, run([terminate, died()]).last, run([observed({ state: "merged" })]).last]) {
      expect(ok(step(s, event))).toMatchObject({ changed: false, actions: [page] })
    }
  })

  it("observing merged again is no change; anything else after merged is refused as final", () => {
    const merged = run([observed({ state: "merged" })]).last
    expect(ok(step(merged, observed({ state: "merged" })))).toMatchObject({ changed: false, actions: [] })
    for (const e of [observed(), observed({ state: "closed" }), activity, terminate]) {
      const r = refused(step(merged, e, "web-3"))
      expect(r).toMatchObject({ sessionId: "web-3", state: "merged", event: e.type })
      expect(r.reason).toContain("merged is final")
    }
  })

  it("everything but liveness and dead messages is refused after killed", () => {
    const killed = run([terminate]).last
    for (const e of [observed(), observed({ state: "merged" }), activity, terminate]) {
      expect(refused(step(killed, e)).reason).toContain("killed is final")
    }
  })

  it("liveness does not come back and a dead agent's activity is refused", () => {
    const dead = run([died()]).last
    const back = refused(step(dead, alive, "web-3"))
    expect(back.reason).toBe("the session died; liveness does not come back: start a new session")
    expect(back.message).toBe(
      "LIVENESS does not apply to a died session (web-3): the session died; liveness does not come back: start a new session"
    )
    expect(refused(step(dead, activity)).state).toBe("died")
  })

  it("activity in a state it does not move, and liveness alive while alive, change nothing", () => {
    const open = run([observed()]).last
    expect(ok(step(open, activity))).toMatchObject({ state: "pr_open", changed: false, actions: [] })
    expect(ok(step(open, alive))).toMatchObject({ state: "pr_open", changed: false, actions: [] })
  })

  it("a persisted row restores to the same behaviour", () => {
    const s = run([failed("a1", 1), failed("b2", 2)]).last
    const row = JSON.parse(JSON.stringify({ value: s.value, context: s.context })) as PersistedSession
    const restored = restoreSession(row)
    expect(stateOf(restored)).toBe("ci_failed")
    expect(ok(step(restored, failed("c3", 3))).actions).toMatchObject([{ type: "pageHuman", kind: "session.ci_stuck" }])
  })

  it("sessionStates lists every work state and died", () => {
    expect(sessionStates).toEqual([
      "spawning", "working", "pr_open", "ci_running", "ci_failed", "fixing", "review_pending",
      "changes_requested", "approved", "mergeable", "merged", "killed", "died"
    ])
  })
})
