import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { deliveryStatuses, type DeliveryStatus } from "../../src/domain/Delivery.js"
import { IllegalTransition } from "../../src/domain/errors.js"
import {
  backoffCeilingMs,
  backoffFloorMs,
  backoffMs,
  type DeliveryContext,
  type DeliveryEvent,
  type RetryPolicy,
  retryAfterCeilingMs,
  step,
  stepAll,
  type Stepped
} from "../../src/machines/delivery.js"

const policy: RetryPolicy = { baseMs: 10_000, factor: 2, capMs: 3_600_000 }
const fresh: DeliveryContext = {
  attempts: 0, maxAttempts: 5, rescues: 0, leaseOwner: null, leaseExpiresAt: null,
  lastErrorCode: null, lastError: null, externalId: null, reason: null
}
const leasedCtx: DeliveryContext = { ...fresh, leaseOwner: "w1", leaseExpiresAt: 40_000 }

const events: Record<DeliveryEvent["type"], DeliveryEvent> = {
  CLAIM: { type: "CLAIM", now: 10_000, owner: "w1", leaseMs: 30_000 },
  SUCCEED: { type: "SUCCEED", now: 11_000, externalId: "ext-1" },
  // The runtime reads these delays from the sink's retry Schedule: backoff of attempt 1 at jitter 0.5.
  FAIL: { type: "FAIL", now: 11_000, delayMs: backoffMs(policy, 1, 0.5), retryable: true, code: "http_500", message: "boom" },
  LEASE_EXPIRED: { type: "LEASE_EXPIRED", now: 40_000, delayMs: backoffMs(policy, 1, 0.5), maxRescues: 3 },
  DUE: { type: "DUE", now: 50_000 },
  REQUEUE: { type: "REQUEUE", now: 60_000 },
  CANCEL: { type: "CANCEL", now: 70_000, reason: "operator" },
  RELEASE: { type: "RELEASE", now: 20_000, dueAt: 5_000 },
  SKIP: { type: "SKIP", now: 80_000, reason: "sink 'hook' was removed" }
}

/** Where each event leads from each state; absent means the event is illegal there. */
const legal: Record<DeliveryStatus, Partial<Record<DeliveryEvent["type"], DeliveryStatus>>> = {
  pending: { CLAIM: "leased", CANCEL: "cancelled", SKIP: "skipped" },
  leased: { SUCCEED: "sent", FAIL: "retry_wait", LEASE_EXPIRED: "retry_wait", CANCEL: "cancelled", RELEASE: "pending" },
  retry_wait: { DUE: "pending", CANCEL: "cancelled", SKIP: "skipped" },
  sent: {},
  dead: { REQUEUE: "pending" },
  skipped: { REQUEUE: "pending" },
  cancelled: { REQUEUE: "pending" }
}

const ok = (r: Stepped | IllegalTransition): Stepped => {
  if (r instanceof IllegalTransition) throw new Error(r.message)
  return r
}

describe("delivery machine", () => {
  for (const state of deliveryStatuses) {
    for (const [type, event] of Object.entries(events)) {
      const target = legal[state][type as DeliveryEvent["type"]]
      const ctx = state === "leased" ? leasedCtx : fresh
      if (target !== undefined) {
        it(`${type} moves a ${state} delivery to ${target}`, () => {
          expect(ok(step(state, ctx, event)).status).toBe(target)
        })
      } else {
        it(`${type} is rejected for a ${state} delivery with a reason`, () => {
          const r = step(state, ctx, event)
          expect(r).toBeInstanceOf(IllegalTransition)
          expect((r as IllegalTransition).state).toBe(state)
          expect((r as IllegalTransition).event).toBe(type)
          expect((r as IllegalTransition).reason.length).toBeGreaterThan(10)
        })
      }
    }
  }

  it("CLAIM takes a lease that expires leaseMs after now", () => {
    const r = ok(step("pending", fresh, events.CLAIM))
    expect(r.context.leaseOwner).toBe("w1")
    expect(r.context.leaseExpiresAt).toBe(40_000)
  })

  it("SUCCEED counts the attempt, keeps the receiver's id, releases the lease and records the attempt", () => {
    const r = ok(step("leased", leasedCtx, events.SUCCEED))
    expect(r.context).toMatchObject({ attempts: 1, externalId: "ext-1", leaseOwner: null, leaseExpiresAt: null })
    expect(r.attempt).toMatchObject({ attempt: 1, outcome: "sent" })
  })

  it("a retryable FAIL waits a backoff, and a permanent one goes dead at once", () => {
    const retry = ok(step("leased", leasedCtx, events.FAIL))
    expect(retry.status).toBe("retry_wait")
    expect(retry.schedule!.atMs).toBe(11_000 + 5_000)
    expect(retry.attempt).toMatchObject({ outcome: "failed", errorCode: "http_500", waitReason: "backoff", nextAttemptAt: 16_000 })
    const dead = ok(step("leased", leasedCtx, { ...events.FAIL, retryable: false } as DeliveryEvent))
    expect(dead.status).toBe("dead")
    expect(dead.context.reason).toContain("permanent error: http_500")
  })

  it("the last attempt of the budget goes dead and says so", () => {
    const r = ok(step("leased", { ...leasedCtx, attempts: 4 }, events.FAIL))
    expect(r.status).toBe("dead")
    expect(r.context.attempts).toBe(5)
    expect(r.context.reason).toContain("attempt budget spent (5 of 5)")
  })

  it("a retryable FAIL or an expired lease whose retry Schedule has ended goes dead and says the schedule ended", () => {
    const fail = ok(step("leased", { ...leasedCtx, attempts: 1 }, { ...events.FAIL, delayMs: null } as DeliveryEvent))
    expect(fail.status).toBe("dead")
    expect(fail.context.reason).toBe("retry schedule ended after 2 attempt(s)")
    expect(fail.attempt).toMatchObject({ outcome: "failed", nextAttemptAt: null })
    const rescued = ok(step("leased", leasedCtx, { ...events.LEASE_EXPIRED, delayMs: null } as DeliveryEvent))
    expect(rescued.status).toBe("dead")
    expect(rescued.context.reason).toBe("retry schedule ended after 1 attempt(s)")
  })

  it("the delay on the event decides the next attempt, whatever it is", () => {
    const r = ok(step("leased", leasedCtx, { ...events.FAIL, delayMs: 123_456 } as DeliveryEvent))
    expect(r.schedule!.atMs).toBe(11_000 + 123_456)
    expect(r.attempt).toMatchObject({ waitReason: "backoff", nextAttemptAt: 11_000 + 123_456 })
  })

  it("an expired lease counts as a failed attempt and waits a backoff, never an immediate re-run", () => {
    const r = ok(step("leased", leasedCtx, events.LEASE_EXPIRED))
    expect(r.status).toBe("retry_wait")
    expect(r.context.attempts).toBe(1)
    expect(r.context.rescues).toBe(1)
    expect(r.schedule!.atMs).toBeGreaterThan(40_000)
    expect(r.attempt).toMatchObject({ outcome: "lease_expired", errorCode: "lease_expired" })
  })

  it("a delivery rescued maxRescues times is dead as a poison message", () => {
    const r = ok(step("leased", { ...leasedCtx, rescues: 2 }, events.LEASE_EXPIRED))
    expect(r.status).toBe("dead")
    expect(r.context.reason).toContain("poison message")
  })

  it("Retry-After longer than the backoff is honoured, capped at backoff plus two hours", () => {
    const later = ok(step("leased", leasedCtx, { ...events.FAIL, retryAfterMs: 120_000 } as DeliveryEvent))
    expect(later.schedule!.atMs).toBe(11_000 + 120_000)
    expect(later.attempt!.waitReason).toBe("retry_after")
    const capped = ok(step("leased", leasedCtx, { ...events.FAIL, retryAfterMs: 10 * retryAfterCeilingMs } as DeliveryEvent))
    expect(capped.schedule!.atMs).toBe(11_000 + 5_000 + retryAfterCeilingMs)
    const shorter = ok(step("leased", leasedCtx, { ...events.FAIL, retryAfterMs: 1 } as DeliveryEvent))
    expect(shorter.attempt!.waitReason).toBe("backoff")
  })

  it("RELEASE gives the lease back without spending an attempt, due again when it was due before the claim", () => {
    const r = ok(step("leased", { ...leasedCtx, attempts: 2, rescues: 1 }, events.RELEASE))
    expect(r.status).toBe("pending")
    expect(r.context).toMatchObject({ attempts: 2, rescues: 1, leaseOwner: null, leaseExpiresAt: null })
    expect(r.attempt).toBeNull()
    expect(r.schedule).toEqual({ atMs: 5_000 })
  })

  it("SKIP sets a waiting delivery aside with its reason, and REQUEUE brings it back", () => {
    const skipped = ok(step("retry_wait", { ...fresh, attempts: 1 }, events.SKIP))
    expect(skipped.status).toBe("skipped")
    expect(skipped.context.reason).toBe("sink 'hook' was removed")
    expect(skipped.attempt).toBeNull()
    expect(ok(step("skipped", skipped.context, events.REQUEUE)).status).toBe("pending")
  })

  it("REQUEUE of a dead delivery resets the budget and makes it due now", () => {
    const r = ok(step("dead", { ...fresh, attempts: 5, reason: "attempt budget spent" }, { type: "REQUEUE", now: 99, maxAttempts: 7 }))
    expect(r.context).toMatchObject({ attempts: 0, rescues: 0, maxAttempts: 7, reason: null })
    expect(r.schedule).toEqual({ atMs: 99 })
  })

  it("stepAll gives the same results as stepping each delivery alone", () => {
    const items = [
      { status: "pending" as const, context: fresh },
      { status: "pending" as const, context: fresh },
      { status: "sent" as const, context: fresh },
      { status: "pending" as const, context: { ...fresh, attempts: 2 } }
    ]
    const batch = stepAll(items, events.CLAIM)
    items.forEach((item, i) => expect(batch[i]).toEqual(step(item.status, item.context, events.CLAIM)))
  })
})

const policyArb = fc.record({
  baseMs: fc.integer({ min: 1, max: 100_000 }),
  factor: fc.double({ min: 1, max: 10, noNaN: true }),
  capMs: fc.integer({ min: 100_000, max: 10_000_000 })
})
const jitterArb = fc.double({ min: 0, max: 0.9999999, noNaN: true })
/** FAIL and LEASE_EXPIRED come with a jitter; `withDelay` turns it into the delay the runtime would pass. */
type ArbEvent =
  | Exclude<DeliveryEvent, { type: "FAIL" | "LEASE_EXPIRED" }>
  | (Omit<Extract<DeliveryEvent, { type: "FAIL" }>, "delayMs"> & { readonly jitter: number })
  | (Omit<Extract<DeliveryEvent, { type: "LEASE_EXPIRED" }>, "delayMs" | "maxRescues"> & { readonly jitter: number })
const withDelay = (p: RetryPolicy, context: DeliveryContext, e: ArbEvent): DeliveryEvent => {
  if (e.type !== "FAIL" && e.type !== "LEASE_EXPIRED") return e
  const { jitter, ...rest } = e
  const delayMs = backoffMs(p, context.attempts + 1, jitter)
  return rest.type === "FAIL" ? { ...rest, delayMs } : { ...rest, delayMs, maxRescues: 3 }
}
const eventArb = (): fc.Arbitrary<ArbEvent> =>
  fc.oneof(
    fc.record({ type: fc.constant("CLAIM" as const), now: fc.nat(), owner: fc.constantFrom("a", "b"), leaseMs: fc.integer({ min: 1_000, max: 60_000 }) }),
    fc.record({ type: fc.constant("SUCCEED" as const), now: fc.nat() }),
    fc.record({
      type: fc.constant("FAIL" as const), now: fc.nat(), jitter: jitterArb,
      retryable: fc.boolean(), code: fc.constant("e"), message: fc.constant("m"),
      retryAfterMs: fc.option(fc.nat({ max: 100_000_000 }), { nil: undefined })
    }),
    fc.record({ type: fc.constant("LEASE_EXPIRED" as const), now: fc.nat(), jitter: jitterArb }),
    fc.record({ type: fc.constant("DUE" as const), now: fc.nat() }),
    fc.record({ type: fc.constant("REQUEUE" as const), now: fc.nat() }),
    fc.record({ type: fc.constant("CANCEL" as const), now: fc.nat(), reason: fc.constant("r") }),
    fc.record({ type: fc.constant("RELEASE" as const), now: fc.nat(), dueAt: fc.nat() }),
    fc.record({ type: fc.constant("SKIP" as const), now: fc.nat(), reason: fc.constant("gone") })
  )

describe("delivery machine invariants (any event sequence)", () => {
  it("attempts never exceed the budget, sent absorbs everything, REQUEUE resets the budget, delays stay in bounds", () => {
    fc.assert(
      fc.property(
        policyArb.chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 1, max: 8 }), fc.array(eventArb(), { maxLength: 60 }))),
        ([p, maxAttempts, seq]) => {
          let status: DeliveryStatus = "pending"
          let context: DeliveryContext = { ...fresh, maxAttempts }
          for (const arb of seq) {
            const e = withDelay(p, context, arb)
            const r = step(status, context, e)
            if (status === "sent") {
              expect(r).toBeInstanceOf(IllegalTransition)
              continue
            }
            if (r instanceof IllegalTransition) continue
            expect(r.context.attempts).toBeLessThanOrEqual(r.context.maxAttempts)
            if (e.type === "REQUEUE") expect(r.context.attempts).toBe(0)
            // Giving a lease back or skipping never spends an attempt.
            if (e.type === "RELEASE" || e.type === "SKIP") {
              expect(r.context.attempts).toBe(context.attempts)
              expect(r.attempt).toBeNull()
            }
            if (r.status === "leased") expect(r.context.leaseOwner).not.toBeNull()
            else expect(r.context.leaseOwner).toBeNull()
            if (r.status === "retry_wait") {
              const delay = r.schedule!.atMs - e.now
              const ceiling = backoffCeilingMs(p, r.context.attempts)
              expect(delay).toBeGreaterThanOrEqual(backoffFloorMs(p))
              expect(delay).toBeLessThanOrEqual(Math.max(ceiling, backoffFloorMs(p)) + retryAfterCeilingMs)
              if (e.type === "LEASE_EXPIRED" || (e.type === "FAIL" && e.retryAfterMs === undefined)) expect(delay).toBeLessThanOrEqual(Math.max(ceiling, backoffFloorMs(p)))
            }
            status = r.status
            context = r.context
          }
        }
      ),
      { numRuns: 500 }
    )
  })
})
