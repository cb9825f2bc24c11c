import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { CircuitTransitionRefused } from "../../src/domain/errors.js"
import type { DeliveryId } from "../../src/domain/Ids.js"
import {
  admission,
  admits,
  type CircuitContext,
  type CircuitEvent,
  type CircuitPolicy,
  circuitStatuses,
  type CircuitStatus,
  closedCircuit,
  cooldownFor,
  heldUntil,
  step,
  type Stepped
} from "../../src/machines/circuit.js"

const id = (s: string) => s as DeliveryId
const policy: CircuitPolicy = { failureThreshold: 3, cooldownMs: 30_000, maxCooldownMs: 200_000, factor: 2 }

const openCtx: CircuitContext = {
  ...closedCircuit,
  consecutiveFailures: 3,
  opens: 1,
  cooldownMs: 30_000,
  openedAt: 10_000,
  probeAt: 40_000,
  lastErrorCode: "http_503",
  lastError: "unavailable"
}
const probingCtx: CircuitContext = { ...openCtx, probeDeliveryId: id("p1") }
const contextIn: Record<CircuitStatus, CircuitContext> = { closed: closedCircuit, open: openCtx, half_open: probingCtx }

const events: Record<CircuitEvent["type"], CircuitEvent> = {
  SUCCEEDED: { type: "SUCCEEDED", now: 50_000, deliveryId: id("p1") },
  FAILED: {
    type: "FAILED", now: 50_000, deliveryId: id("p1"), retryable: true, code: "http_503", message: "unavailable", policy
  },
  RELEASED: { type: "RELEASED", now: 50_000, deliveryId: id("p1") },
  COOLDOWN_OVER: { type: "COOLDOWN_OVER", now: 40_000 },
  PROBE: { type: "PROBE", now: 50_000, deliveryId: id("p2") },
  RESET: { type: "RESET", now: 50_000 },
  POLICY_CHANGED: { type: "POLICY_CHANGED", now: 50_000, policy: { ...policy, failureThreshold: 10 } }
}

/** Where each event leads from each state (half_open with probe p1 in flight); absent means refused. */
const legal: Record<CircuitStatus, Partial<Record<CircuitEvent["type"], CircuitStatus>>> = {
  closed: { SUCCEEDED: "closed", FAILED: "closed", RELEASED: "closed", RESET: "closed", POLICY_CHANGED: "closed" },
  open: {
    SUCCEEDED: "open", FAILED: "open", RELEASED: "open", COOLDOWN_OVER: "half_open", RESET: "closed",
    POLICY_CHANGED: "open"
  },
  half_open: {
    SUCCEEDED: "closed", FAILED: "open", RELEASED: "half_open", RESET: "closed", POLICY_CHANGED: "half_open"
  }
}

const ok = (r: Stepped | CircuitTransitionRefused): Stepped => {
  if (r instanceof CircuitTransitionRefused) throw new Error(r.message)
  return r
}
const failed = (now: number, deliveryId: string, over: Partial<Extract<CircuitEvent, { type: "FAILED" }>> = {}): CircuitEvent => ({
  ...(events.FAILED as Extract<CircuitEvent, { type: "FAILED" }>), now, deliveryId: id(deliveryId), ...over
})
const run = (status: CircuitStatus, context: CircuitContext, seq: ReadonlyArray<CircuitEvent>) => {
  let s: Stepped = { _tag: "Stepped", status, context, changed: false, actions: [] }
  for (const e of seq) s = ok(step(s.status, s.context, e))
  return s
}

describe("circuit machine", () => {
  for (const state of circuitStatuses) {
    for (const [type, event] of Object.entries(events)) {
      const target = legal[state][type as CircuitEvent["type"]]
      if (target !== undefined) {
        it(`${type} moves a ${state} circuit to ${target}`, () => {
          expect(ok(step(state, contextIn[state], event)).status).toBe(target)
        })
      } else {
        it(`${type} is refused for a ${state} circuit with a reason`, () => {
          const r = step(state, contextIn[state], event)
          expect(r).toBeInstanceOf(CircuitTransitionRefused)
          expect((r as CircuitTransitionRefused).state).toBe(state)
          expect((r as CircuitTransitionRefused).event).toBe(type)
          expect((r as CircuitTransitionRefused).reason.length).toBeGreaterThan(10)
          expect((r as CircuitTransitionRefused).message).toContain(`a ${state} circuit`)
        })
      }
    }
  }

  it("N retryable failures open it; the probe after the cooldown closes it on success", () => {
    const two = run("closed", closedCircuit, [failed(1_000, "a"), failed(2_000, "b")])
    expect(two.status).toBe("closed")
    expect(two.context.consecutiveFailures).toBe(2)
    expect(admits(two.status, two.context)).toBe(true)

    const opened = ok(step(two.status, two.context, failed(3_000, "c")))
    expect(opened.status).toBe("open")
    expect(opened.context).toMatchObject({ opens: 1, cooldownMs: 30_000, openedAt: 3_000, probeAt: 33_000 })
    expect(opened.context.reason).toBe("3 consecutive retryable failures (last: http_503)")
    expect(opened.actions).toEqual([{ type: "scheduleProbe", atMs: 33_000 }])
    expect(admission(opened.status, opened.context)).toBe("hold")
    expect(heldUntil(opened.status, opened.context)).toBe(33_000)

    expect(step("open", opened.context, { type: "COOLDOWN_OVER", now: 32_999 })).toBeInstanceOf(CircuitTransitionRefused)
    const half = ok(step("open", opened.context, { type: "COOLDOWN_OVER", now: 33_000 }))
    expect(half.status).toBe("half_open")
    expect(half.actions).toEqual([{ type: "admitProbe" }])
    expect(admission(half.status, half.context)).toBe("probe")

    const probing = ok(step("half_open", half.context, { type: "PROBE", now: 33_100, deliveryId: id("d") }))
    expect(probing.context.probeDeliveryId).toBe("d")
    expect(admission(probing.status, probing.context)).toBe("hold")

    const closed = ok(step("half_open", probing.context, { type: "SUCCEEDED", now: 33_200, deliveryId: id("d") }))
    expect(closed.status).toBe("closed")
    expect(closed.actions).toEqual([{ type: "resumeDeliveries" }])
    expect(closed.context).toMatchObject({
      consecutiveFailures: 0, opens: 0, cooldownMs: null, openedAt: null, probeAt: null, probeDeliveryId: null,
      reason: "the probe succeeded", lastErrorCode: "http_503"
    })
  })

  it("a failed probe reopens with a doubled cooldown, capped at maxCooldownMs, and closing starts again from the base", () => {
    let s = run("closed", closedCircuit, [failed(0, "a"), failed(0, "b"), failed(0, "c")])
    const cooldowns = [s.context.cooldownMs]
    let now = 0
    for (let i = 0; i < 4; i++) {
      now = s.context.probeAt!
      s = run(s.status, s.context, [
        { type: "COOLDOWN_OVER", now },
        { type: "PROBE", now, deliveryId: id(`probe${i}`) },
        failed(now + 10, `probe${i}`)
      ])
      expect(s.status).toBe("open")
      expect(s.actions).toEqual([{ type: "scheduleProbe", atMs: now + 10 + s.context.cooldownMs! }])
      cooldowns.push(s.context.cooldownMs)
    }
    expect(cooldowns).toEqual([30_000, 60_000, 120_000, 200_000, 200_000])
    expect(s.context.opens).toBe(5)
    expect(s.context.openedAt).toBe(0)
    expect(s.context.reason).toBe("the probe failed (http_503): open 5 times in a row")

    now = s.context.probeAt!
    const closed = run(s.status, s.context, [
      { type: "COOLDOWN_OVER", now },
      { type: "PROBE", now, deliveryId: id("last") },
      { type: "SUCCEEDED", now, deliveryId: id("last") }
    ])
    const again = run(closed.status, closed.context, [failed(now, "x"), failed(now, "y"), failed(now, "z")])
    expect(again.context).toMatchObject({ opens: 1, cooldownMs: 30_000, openedAt: now })
  })

  it("permanent failures never open it and end a run of retryable failures", () => {
    const permanent = (n: number) => failed(n, `g${n}`, { retryable: false, code: "http_410" })
    const s = run("closed", closedCircuit, Array.from({ length: 20 }, (_, i) => permanent(i)))
    expect(s.status).toBe("closed")
    expect(s.context.consecutiveFailures).toBe(0)
    const broken = run("closed", closedCircuit, [failed(1, "a"), failed(2, "b"), permanent(3), failed(4, "c"), failed(5, "d")])
    expect(broken.status).toBe("closed")
    expect(broken.context.consecutiveFailures).toBe(2)
  })

  it("a success ends a run of retryable failures", () => {
    const s = run("closed", closedCircuit, [
      failed(1, "a"), failed(2, "b"), { type: "SUCCEEDED", now: 3, deliveryId: id("c") }, failed(4, "d"), failed(5, "e")
    ])
    expect(s.status).toBe("closed")
    expect(s.context.consecutiveFailures).toBe(2)
  })

  it("a probe's permanent failure closes it: the sink answered", () => {
    const r = ok(step("half_open", probingCtx, failed(50_000, "p1", { retryable: false, code: "http_410" })))
    expect(r.status).toBe("closed")
    expect(r.context.reason).toBe("the probe got a permanent error (http_410): the sink answers")
    expect(r.actions).toEqual([{ type: "resumeDeliveries" }])
  })

  it("late outcomes of calls started before it opened neither close it nor extend its cooldown", () => {
    for (const late of [
      { type: "SUCCEEDED", now: 35_000, deliveryId: id("old") },
      failed(35_000, "old"),
      failed(35_000, "old", { retryable: false })
    ] as const) {
      const r = ok(step("open", openCtx, late))
      expect(r.status).toBe("open")
      expect(r.context).toEqual(openCtx)
      expect(r.changed).toBe(false)
      expect(r.actions).toHaveLength(1)
      expect(r.actions[0]!.type).toBe("ignoreOutcome")
    }
  })

  it("in half_open only the probe's outcome decides; others are ignored", () => {
    for (const other of [{ type: "SUCCEEDED", now: 50_000, deliveryId: id("old") }, failed(50_000, "old")] as const) {
      const r = ok(step("half_open", probingCtx, other))
      expect(r.status).toBe("half_open")
      expect(r.changed).toBe(false)
      expect(r.actions).toEqual([{ type: "ignoreOutcome", reason: "only the probe's outcome decides a half-open circuit" }])
    }
  })

  it("a probe given back without an outcome frees the slot and admits another; a second probe is refused", () => {
    const second = step("half_open", probingCtx, { type: "PROBE", now: 50_000, deliveryId: id("p2") })
    expect(second).toBeInstanceOf(CircuitTransitionRefused)
    expect((second as CircuitTransitionRefused).reason).toContain("p1")
    const freed = ok(step("half_open", probingCtx, { type: "RELEASED", now: 50_000, deliveryId: id("p1") }))
    expect(freed.context.probeDeliveryId).toBeNull()
    expect(freed.actions).toEqual([{ type: "admitProbe" }])
    expect(ok(step("half_open", freed.context, { type: "PROBE", now: 50_000, deliveryId: id("p2") })).context.probeDeliveryId).toBe("p2")
  })

  it("RESET closes it from any state, and an open circuit's timer is cancelled", () => {
    for (const state of circuitStatuses) {
      const r = ok(step(state, { ...contextIn[state], consecutiveFailures: 2 }, events.RESET))
      expect(r.status).toBe("closed")
      expect(r.context).toMatchObject({ consecutiveFailures: 0, opens: 0, cooldownMs: null, probeAt: null, probeDeliveryId: null })
      if (state === "open") expect(r.actions).toEqual([{ type: "cancelProbe" }, { type: "resumeDeliveries" }])
      if (state === "half_open") expect(r.actions).toEqual([{ type: "resumeDeliveries" }])
      if (state !== "closed") expect(r.context.reason).toBe("reset by an operator")
    }
  })

  it("removing the breaker from the settings closes it; a new policy applies from the next failure", () => {
    const removed: CircuitEvent = { type: "POLICY_CHANGED", now: 50_000, policy: null }
    for (const state of circuitStatuses) {
      const r = ok(step(state, { ...contextIn[state], consecutiveFailures: 2 }, removed))
      expect(r.status).toBe("closed")
      expect(r.context.consecutiveFailures).toBe(0)
    }
    const kept = ok(step("open", openCtx, events.POLICY_CHANGED))
    expect(kept).toMatchObject({ status: "open", context: openCtx, changed: false, actions: [] })

    const lowered = { ...policy, failureThreshold: 2 }
    const raised = { policy: { ...policy, failureThreshold: 5 } }
    const atThree = run("closed", closedCircuit, [failed(1, "a", raised), failed(2, "b", raised), failed(3, "c", raised)])
    const afterWrite = ok(step("closed", atThree.context, { type: "POLICY_CHANGED", now: 4, policy: lowered }))
    expect(afterWrite.status).toBe("closed")
    expect(ok(step("closed", afterWrite.context, failed(5, "d", { policy: lowered }))).status).toBe("open")
  })

  it("an unchanged step says so, so the runtime writes and announces nothing", () => {
    expect(ok(step("closed", closedCircuit, events.SUCCEEDED)).changed).toBe(false)
    expect(ok(step("closed", closedCircuit, events.RESET)).changed).toBe(false)
    expect(ok(step("closed", closedCircuit, events.FAILED)).changed).toBe(true)
    expect(ok(step("open", openCtx, { type: "COOLDOWN_OVER", now: 40_000 })).changed).toBe(true)
  })

  it("cooldownFor stays within [base, cap] even for a cap below the base, a factor below 1 or a huge exponent", () => {
    expect(cooldownFor({ ...policy, maxCooldownMs: 1_000 }, 3)).toBe(30_000)
    expect(cooldownFor({ ...policy, factor: 0.5 }, 3)).toBe(30_000)
    expect(cooldownFor(policy, 5_000)).toBe(200_000)
  })
})

// A cap within a few cooldowns of the base (sometimes below it), so that a few reopens reach it.
const policyArb: fc.Arbitrary<CircuitPolicy> = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 5 }),
  cooldownMs: fc.integer({ min: 1, max: 100_000 }),
  capRatio: fc.double({ min: 0.5, max: 3, noNaN: true }),
  factor: fc.double({ min: 0.5, max: 4, noNaN: true })
}).map(({ capRatio, ...p }) => ({ ...p, maxCooldownMs: Math.round(p.cooldownMs * capRatio) }))
const idArb = fc.constantFrom("a", "b", "c").map(id)
// One range for every event's time, so that timers fire after the cooldown as often as before it.
const nowArb = fc.nat({ max: 1_000_000 })
/**
 * Besides arbitrary events, two that act like the runtime, so that sequences reach reopens and
 * the cap: TIMER fires COOLDOWN_OVER at the persisted probeAt, PROBE_ANSWER answers the probe in flight.
 */
type ArbEvent =
  | CircuitEvent
  | { readonly type: "TIMER" }
  | { readonly type: "PROBE_ANSWER"; readonly now: number; readonly succeeded: boolean; readonly retryable: boolean }
const resolve = (p: CircuitPolicy, context: CircuitContext, e: ArbEvent): CircuitEvent => {
  if (e.type === "TIMER") return { type: "COOLDOWN_OVER", now: context.probeAt ?? 0 }
  if (e.type !== "PROBE_ANSWER") return e
  const deliveryId = context.probeDeliveryId ?? id("a")
  return e.succeeded
    ? { type: "SUCCEEDED", now: e.now, deliveryId }
    : { type: "FAILED", now: e.now, deliveryId, retryable: e.retryable, code: "e", message: "m", policy: p }
}
const eventArb = (p: CircuitPolicy): fc.Arbitrary<ArbEvent> =>
  fc.oneof(
    fc.constant({ type: "TIMER" as const }),
    fc.record({ type: fc.constant("PROBE_ANSWER" as const), now: nowArb, succeeded: fc.boolean(), retryable: fc.boolean() }),
    fc.record({ type: fc.constant("SUCCEEDED" as const), now: nowArb, deliveryId: idArb }),
    fc.record({
      type: fc.constant("FAILED" as const), now: nowArb, deliveryId: idArb, retryable: fc.boolean(),
      code: fc.constant("e"), message: fc.constant("m"), policy: fc.constant(p)
    }),
    // Retryable failures twice as often, so that runs reach the threshold.
    fc.record({
      type: fc.constant("FAILED" as const), now: nowArb, deliveryId: idArb, retryable: fc.constant(true),
      code: fc.constant("e"), message: fc.constant("m"), policy: fc.constant(p)
    }),
    fc.record({ type: fc.constant("RELEASED" as const), now: nowArb, deliveryId: idArb }),
    fc.record({ type: fc.constant("COOLDOWN_OVER" as const), now: nowArb }),
    fc.record({ type: fc.constant("PROBE" as const), now: nowArb, deliveryId: idArb }),
    fc.record({ type: fc.constant("RESET" as const), now: nowArb }),
    fc.record({ type: fc.constant("POLICY_CHANGED" as const), now: nowArb, policy: fc.constantFrom(p, null) })
  )
// size "max": fast-check's default size keeps arrays to a handful of events, too few to reopen.
const scenarioArb = policyArb.chain((p) =>
  fc.tuple(fc.constant(p), fc.array(eventArb(p), { minLength: 10, maxLength: 80, size: "max" }))
)

describe("circuit machine invariants (any event sequence)", () => {
  it("it never opens without N consecutive retryable failures since it last closed; cooldown stays in [base, cap]; one probe at most", () => {
    fc.assert(
      fc.property(scenarioArb, ([p, seq]) => {
        let status: CircuitStatus = "closed"
        let context = closedCircuit
        // The model: retryable failures in a row while closed, reset by anything that says the sink is up.
        let run = 0
        for (const arb of seq) {
          const e = resolve(p, context, arb)
          const r = step(status, context, e)
          if (r instanceof CircuitTransitionRefused) {
            expect(["COOLDOWN_OVER", "PROBE"]).toContain(e.type)
            continue
          }
          if (status === "closed") {
            if (e.type === "FAILED" && e.retryable) run++
            else if (e.type !== "RELEASED" && !(e.type === "POLICY_CHANGED" && e.policy !== null)) run = 0
            if (r.status === "open") expect(run).toBeGreaterThanOrEqual(p.failureThreshold)
          }
          if (r.status === "closed") {
            expect(r.context).toMatchObject({ opens: 0, cooldownMs: null, probeAt: null, probeDeliveryId: null })
            if (status !== "closed") run = 0
          } else {
            expect(r.context.cooldownMs).toBeGreaterThanOrEqual(p.cooldownMs)
            expect(r.context.cooldownMs).toBeLessThanOrEqual(Math.max(p.cooldownMs, p.maxCooldownMs))
            expect(r.context.opens).toBeGreaterThanOrEqual(1)
          }
          if (r.status !== "half_open") expect(r.context.probeDeliveryId).toBeNull()
          // At most one probe: a PROBE is taken only into a free slot.
          if (e.type === "PROBE") expect(context.probeDeliveryId).toBeNull()
          if (r.status === "open" && status !== "open") {
            expect(r.actions).toContainEqual({ type: "scheduleProbe", atMs: r.context.probeAt })
          }
          if (status === "open" && r.status === "open") {
            // Nothing but the timer moves an open circuit's cooldown.
            expect(r.context.probeAt).toBe(context.probeAt)
          }
          expect(r.changed).toBe(r.status !== status || JSON.stringify(r.context) !== JSON.stringify(context))
          status = r.status
          context = r.context
        }
      }),
      { numRuns: 500 }
    )
  })

  it("the machine is deterministic: the same inputs give the same outputs", () => {
    fc.assert(
      fc.property(scenarioArb, ([p, seq]) => {
        const trace = () => {
          let status: CircuitStatus = "closed"
          let context = closedCircuit
          return seq.map((arb) => {
            const r = step(status, context, resolve(p, context, arb))
            if (r instanceof CircuitTransitionRefused) return { refused: r.reason }
            status = r.status
            context = r.context
            return r
          })
        }
        expect(trace()).toEqual(trace())
      }),
      { numRuns: 200 }
    )
  })
})
