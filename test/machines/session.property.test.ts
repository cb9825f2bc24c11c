/** Rules of the session machine that hold for any sequence of events (fast-check). */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { SessionTransitionRefused } from "../../src/domain/errors.js"
import { ciStates, mergeabilities, reviewDecisions } from "../../src/domain/Session.js"
import {
  initialSession,
  type PersistedSession,
  type PrFacts,
  type SessionEvent,
  sessionStates,
  stateOf,
  step,
  type Stepped
} from "../../src/machines/session.js"

const nowArb = fc.nat({ max: 1_000_000 })
// Few PRs and head commits, so that sequences revisit them: repeats, switches, streaks.
const prArb: fc.Arbitrary<PrFacts> = fc.record({
  url: fc.constantFrom("https://github.com/acme/web/pull/1", "https://github.com/acme/web/pull/2"),
  state: fc.constantFrom("open", "open", "open", "open", "open", "closed", "merged"),
  reviewDecision: fc.constantFrom(null, ...reviewDecisions),
  mergeability: fc.constantFrom(null, ...mergeabilities),
  headSha: fc.constantFrom("a1", "b2", "c3", "d4"),
  ciState: fc.constantFrom(...ciStates, "failed", "failed"),
  failedRuns: fc.nat({ max: 5 }),
  failingChecks: fc.constant([])
})
const commentArb = fc.record({
  id: fc.constantFrom("1", "2", "3"),
  author: fc.constant("reviewer"),
  body: fc.constant("nit"),
  path: fc.constant(null),
  line: fc.constant(null)
})
const eventArb: fc.Arbitrary<SessionEvent> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ type: fc.constant("ACTIVITY" as const), now: nowArb, kind: fc.constant("tool_call") }) },
  {
    weight: 8,
    arbitrary: fc.record({
      type: fc.constant("PR_OBSERVED" as const),
      now: nowArb,
      pr: prArb,
      newComments: fc.array(commentArb, { maxLength: 2 })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("LIVENESS" as const),
      now: nowArb,
      alive: fc.boolean(),
      reason: fc.constantFrom(null, "exit code 1"),
      cause: fc.constantFrom("observed" as const, "reaper" as const)
    })
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("TERMINATE" as const), now: nowArb, reason: fc.constant("stop") }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("AGENT_MESSAGE_DEAD" as const),
      now: nowArb,
      deliveryId: fc.constant("d-1"),
      messageKind: fc.constant("ci_failed")
    })
  }
)
// size "max": fast-check's default size keeps arrays to a handful of events, too few for a streak.
const sequenceArb = fc.array(eventArb, { minLength: 5, maxLength: 60, size: "max" })

interface Trace {
  readonly before: PersistedSession
  readonly event: SessionEvent
  readonly result: Stepped | SessionTransitionRefused
}
/** Steps through the events from a new session, carrying on from the last accepted step. */
const trace = (events: ReadonlyArray<SessionEvent>): Array<Trace> => {
  let s: PersistedSession = initialSession()
  return events.map((event) => {
    const before = { value: s.value, context: s.context }
    const result = step(s, event)
    if (!(result instanceof SessionTransitionRefused)) s = result
    return { before, event, result }
  })
}
const accepted = (t: Trace): t is Trace & { result: Stepped } => !(t.result instanceof SessionTransitionRefused)

/**
 * Splits accepted steps into failing streaks: a streak ends at a passed CI run, or where the
 * followed PR changes (another PR's failures are its own streak).
 */
const streaks = (ts: ReadonlyArray<Trace>): Array<Array<Stepped>> => {
  const out: Array<Array<Stepped>> = [[]]
  for (const t of ts.filter(accepted)) {
    const ends = (t.event.type === "PR_OBSERVED" && t.event.pr.state === "open" && t.event.pr.ciState === "passed") ||
      t.result.context.prUrl !== t.before.context.prUrl
    if (ends) out.push([])
    out[out.length - 1]!.push(t.result)
  }
  return out
}

const runs = { numRuns: 500 }

describe("session machine invariants (any event sequence)", () => {
  it("merged is final: once merged the flat state stays merged, and killed never follows it", () => {
    fc.assert(
      fc.property(sequenceArb, (events) => {
        let merged = false
        for (const t of trace(events).filter(accepted)) {
          if (merged) expect(t.result.state).toBe("merged")
          if (t.result.state === "merged") merged = true
        }
      }),
      runs
    )
  })

  it("liveness never erases PR state: LIVENESS leaves the work region as it was", () => {
    fc.assert(
      fc.property(sequenceArb, (events) => {
        for (const t of trace(events).filter(accepted)) {
          if (t.event.type === "LIVENESS") {
            expect(t.result.value.work).toBe(t.before.value.work)
            expect(t.result.context.prUrl).toBe(t.before.context.prUrl)
            expect(t.result.context.headSha).toBe(t.before.context.headSha)
          }
        }
      }),
      runs
    )
  })

  it("a failing streak pages a human for stuck CI at most once and messages the agent about failures at most twice", () => {
    fc.assert(
      fc.property(sequenceArb, (events) => {
        for (const streak of streaks(trace(events))) {
          const actions = streak.flatMap((s) => s.actions)
          expect(actions.filter((a) => a.type === "pageHuman" && a.kind === "session.ci_stuck").length).toBeLessThanOrEqual(1)
          expect(actions.filter((a) => a.type === "messageAgent" && a.kind === "ci_failed").length).toBeLessThanOrEqual(2)
        }
      }),
      runs
    )
  })

  it("no agent action reaches an agent that is gone", () => {
    fc.assert(
      fc.property(sequenceArb, (events) => {
        for (const t of trace(events).filter(accepted)) {
          if (t.before.value.liveness === "gone") {
            expect(t.result.actions.filter((a) => a.type === "messageAgent" || a.type === "forwardComment")).toEqual([])
          }
        }
      }),
      runs
    )
  })

  it("refused events leave the snapshot untouched, and only the documented events are refused", () => {
    fc.assert(
      fc.property(sequenceArb, (events) => {
        let s: PersistedSession = initialSession()
        for (const event of events) {
          const row = JSON.stringify({ value: s.value, context: s.context })
          const r = step(s, event)
          // The step never mutates what it was given.
          expect(JSON.stringify({ value: s.value, context: s.context })).toBe(row)
          const { work, liveness } = s.value
          const ended = work === "merged" || work === "killed"
          const refusable = event.type === "ACTIVITY"
            ? ended || liveness === "gone"
            : event.type === "PR_OBSERVED"
            ? work === "killed" || work === "merged" && event.pr.state !== "merged"
            : event.type === "LIVENESS"
            ? event.alive && liveness === "gone"
            : event.type === "TERMINATE"
            ? ended
            : false
          expect(r instanceof SessionTransitionRefused).toBe(refusable)
          if (r instanceof SessionTransitionRefused) {
            expect(r.state).toBe(stateOf(s))
            expect(r.reason.length).toBeGreaterThan(0)
          } else {
            s = r
          }
        }
      }),
      runs
    )
  })

  it("the flat state is always one of sessionStates, and changed says whether the row differs", () => {
    fc.assert(
      fc.property(sequenceArb, (events) => {
        for (const t of trace(events).filter(accepted)) {
          expect(sessionStates).toContain(t.result.state)
          expect(t.result.state).toBe(stateOf(t.result))
          const differs = JSON.stringify(t.result.value) !== JSON.stringify(t.before.value) ||
            JSON.stringify(t.result.context) !== JSON.stringify(t.before.context)
          expect(t.result.changed).toBe(differs)
        }
      }),
      runs
    )
  })

  it("the same PR observation again (its comments forwarded) changes nothing and emits nothing", () => {
    fc.assert(
      fc.property(sequenceArb, prArb, (events, pr) => {
        const ts = trace(events).filter(accepted)
        const s: PersistedSession = ts.length > 0 ? ts[ts.length - 1]!.result : initialSession()
        const e: SessionEvent = { type: "PR_OBSERVED", now: 1, pr, newComments: [] }
        const first = step(s, e)
        if (first instanceof SessionTransitionRefused) return
        const again = step(first, e)
        expect(again).not.toBeInstanceOf(SessionTransitionRefused)
        expect(again).toMatchObject({ changed: false, actions: [], value: first.value, context: first.context })
      }),
      runs
    )
  })

  it("the machine is deterministic: the same events give the same results", () => {
    fc.assert(
      fc.property(sequenceArb, (events) => {
        const plain = () => trace(events).map((t) => t.result instanceof SessionTransitionRefused ? t.result.reason : t.result)
        expect(plain()).toEqual(plain())
      }),
      { numRuns: 200 }
    )
  })
})
