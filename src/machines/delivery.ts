/**
 * The delivery machine: pending -> leased -> sent | retry_wait | dead, plus skipped and
 * cancelled. Pure: time and the retry delay arrive on events (the runtime reads the delay from
 * the sink's retry Schedule); the runtime persists the snapshot and interprets the returned
 * actions (`schedule`, `recordAttempt`).
 */
import { assign, setup, type SnapshotFrom } from "xstate"
import type { AttemptOutcome, DeliveryStatus, WaitReason } from "../domain/Delivery.js"
import { IllegalTransition } from "../domain/errors.js"
import { makePureStep } from "./internal/pureStep.js"

export interface DeliveryContext {
  readonly attempts: number
  readonly maxAttempts: number
  readonly rescues: number
  readonly leaseOwner: string | null
  readonly leaseExpiresAt: number | null
  readonly lastErrorCode: string | null
  readonly lastError: string | null
  readonly externalId: string | null
  readonly reason: string | null
}

/** The settings' retry fields that the backoff is computed from (the runtime compiles them to a Schedule). */
export interface RetryPolicy {
  readonly baseMs: number
  readonly factor: number
  readonly capMs: number
}

export type DeliveryEvent =
  | { readonly type: "CLAIM"; readonly now: number; readonly owner: string; readonly leaseMs: number }
  | { readonly type: "SUCCEED"; readonly now: number; readonly externalId?: string | undefined }
  | {
    readonly type: "FAIL"
    readonly now: number
    /**
     * The wait before the next attempt, read by the runtime from the sink's retry Schedule;
     * null when that Schedule has ended (no more retries).
     */
    readonly delayMs: number | null
    readonly retryable: boolean
    readonly code: string
    readonly message: string
    readonly retryAfterMs?: number | undefined
  }
  | {
    readonly type: "LEASE_EXPIRED"
    readonly now: number
    /** As FAIL's: from the sink's retry Schedule, null once it has ended. */
    readonly delayMs: number | null
    /** A delivery whose lease expired this many times is dead as a poison message. */
    readonly maxRescues: number
  }
  /**
   * The lease is given back before the sink call started (a graceful stop): no attempt is
   * spent and the delivery is due again at `dueAt`, the time it was due when it was claimed,
   * so it keeps its place in line.
   */
  | { readonly type: "RELEASE"; readonly now: number; readonly dueAt: number }
  /** The delivery's sink was removed from the settings: it is set aside with the reason (REQUEUE brings it back). */
  | { readonly type: "SKIP"; readonly now: number; readonly reason: string }
  | { readonly type: "DUE"; readonly now: number }
  | { readonly type: "REQUEUE"; readonly now: number; readonly maxAttempts?: number | undefined }
  | { readonly type: "CANCEL"; readonly now: number; readonly reason: string }

export type DeliveryEventType = DeliveryEvent["type"]

/** Params of the `schedule` action: the delivery becomes claimable at `atMs`. */
export interface ScheduleParams {
  readonly atMs: number
}

/** Params of the `recordAttempt` action: one `delivery_attempts` row. */
export interface AttemptParams {
  readonly attempt: number
  readonly outcome: AttemptOutcome
  readonly errorCode: string | null
  readonly error: string | null
  readonly retryable: boolean | null
  readonly nextAttemptAt: number | null
  readonly waitReason: WaitReason | null
}

/** Never later than the backoff plus this, whatever a server's Retry-After says. */
export const retryAfterCeilingMs = 2 * 60 * 60 * 1000

/** The exponential ceiling for the n-th attempt (n >= 1): min(cap, base * factor^(n-1)). */
export const backoffCeilingMs = (policy: RetryPolicy, attempt: number): number =>
  Math.min(policy.capMs, policy.baseMs * Math.pow(policy.factor, Math.max(0, attempt - 1)))

/** The smallest delay full jitter may draw: a retry is never immediate. */
export const backoffFloorMs = (policy: RetryPolicy): number => Math.min(policy.baseMs, 1_000)

/** Full jitter: uniform in [0, ceiling], floored so that a retry is never immediate. */
export const backoffMs = (policy: RetryPolicy, attempt: number, jitter: number): number =>
  Math.max(backoffFloorMs(policy), Math.floor(jitter * backoffCeilingMs(policy, attempt)))

/** When the next attempt may run, and why it waits that long: the Schedule's delay, or a longer Retry-After. */
export const nextAttempt = (
  backoff: number,
  now: number,
  retryAfterMs: number | undefined
): { readonly atMs: number; readonly waitReason: WaitReason } => {
  if (retryAfterMs !== undefined && retryAfterMs > backoff) {
    return { atMs: now + Math.min(retryAfterMs, backoff + retryAfterCeilingMs), waitReason: "retry_after" }
  }
  return { atMs: now + backoff, waitReason: "backoff" }
}

type FailLike = Extract<DeliveryEvent, { type: "FAIL" | "LEASE_EXPIRED" }>
const failureOf = (e: FailLike) =>
  e.type === "FAIL"
    ? { code: e.code, message: e.message, retryable: e.retryable, retryAfterMs: e.retryAfterMs }
    : { code: "lease_expired", message: "the lease expired before an outcome was recorded", retryable: true, retryAfterMs: undefined }

const released = { leaseOwner: null, leaseExpiresAt: null } as const

type Ctx = { readonly context: DeliveryContext; readonly event: DeliveryEvent }

/** After recordFailure: when the retry runs, and why (backoff or the server's Retry-After). Only where a guard saw a delay. */
const retryOf = ({ event }: Ctx) => {
  const e = event as FailLike
  return nextAttempt(e.delayMs ?? 0, e.now, failureOf(e).retryAfterMs)
}

const failedAttempt = (retrying: boolean) => ({ context, event }: Ctx): AttemptParams => {
  const e = event as FailLike
  const f = failureOf(e)
  const retry = retrying ? retryOf({ context, event }) : null
  return {
    attempt: context.attempts,
    outcome: e.type === "FAIL" ? "failed" : "lease_expired",
    errorCode: f.code,
    error: f.message,
    retryable: f.retryable,
    nextAttemptAt: retry?.atMs ?? null,
    waitReason: retry?.waitReason ?? null
  }
}

const scheduleNow = ({ event }: Ctx): ScheduleParams => ({ atMs: event.now })

export const deliveryMachine = setup({
  types: {
    context: {} as DeliveryContext,
    events: {} as DeliveryEvent,
    input: {} as DeliveryContext
  },
  guards: {
    retryableWithBudget: ({ context, event }) =>
      event.type === "FAIL" && event.retryable && event.delayMs !== null && context.attempts + 1 < context.maxAttempts,
    rescueBudgetLeft: ({ context, event }) =>
      event.type === "LEASE_EXPIRED" && event.delayMs !== null && context.rescues + 1 < event.maxRescues &&
      context.attempts + 1 < context.maxAttempts
  },
  actions: {
    takeLease: assign(({ event }) =>
      event.type === "CLAIM" ? { leaseOwner: event.owner, leaseExpiresAt: event.now + event.leaseMs } : {}
    ),
    recordSuccess: assign(({ context, event }) => ({
      ...released,
      attempts: context.attempts + 1,
      externalId: event.type === "SUCCEED" ? event.externalId ?? null : context.externalId,
      reason: null
    })),
    recordFailure: assign(({ context, event }) => {
      const f = failureOf(event as FailLike)
      return {
        ...released,
        attempts: context.attempts + 1,
        rescues: context.rescues + (event.type === "LEASE_EXPIRED" ? 1 : 0),
        lastErrorCode: f.code,
        lastError: f.message
      }
    }),
    explainDeath: assign(({ context, event }) => {
      const e = event as FailLike
      const reason = e.type === "FAIL" && !e.retryable
        ? `permanent error: ${e.code}`
        : e.type === "LEASE_EXPIRED" && context.rescues >= e.maxRescues
        ? `lease expired ${context.rescues} times: treated as a poison message`
        : context.attempts >= context.maxAttempts
        ? `attempt budget spent (${context.attempts} of ${context.maxAttempts})`
        : `retry schedule ended after ${context.attempts} attempt(s)`
      return { reason }
    }),
    resetBudget: assign(({ context, event }) => ({
      ...released,
      attempts: 0,
      rescues: 0,
      maxAttempts: event.type === "REQUEUE" && event.maxAttempts !== undefined ? event.maxAttempts : context.maxAttempts,
      reason: null
    })),
    markCancelled: assign(({ event }) => ({ ...released, reason: event.type === "CANCEL" ? event.reason : null })),
    markSkipped: assign(({ event }) => ({ ...released, reason: event.type === "SKIP" ? event.reason : null })),
    giveBackLease: assign(() => released),
    schedule: (_, _params: ScheduleParams) => {},
    recordAttempt: (_, _params: AttemptParams) => {}
  }
}).createMachine({
  id: "delivery",
  initial: "pending",
  context: ({ input }) => input,
  states: {
    pending: {
      on: {
        CLAIM: { target: "leased", actions: "takeLease" },
        CANCEL: { target: "cancelled", actions: "markCancelled" },
        SKIP: { target: "skipped", actions: "markSkipped" }
      }
    },
    leased: {
      on: {
        SUCCEED: {
          target: "sent",
          actions: [
            "recordSuccess",
            {
              type: "recordAttempt",
              params: ({ context }) => ({
                attempt: context.attempts,
                outcome: "sent",
                errorCode: null,
                error: null,
                retryable: null,
                nextAttemptAt: null,
                waitReason: null
              })
            }
          ]
        },
        FAIL: [
          {
            guard: "retryableWithBudget",
            target: "retry_wait",
            actions: [
              "recordFailure",
              { type: "schedule", params: (a) => ({ atMs: retryOf(a).atMs }) },
              { type: "recordAttempt", params: failedAttempt(true) }
            ]
          },
          {
            target: "dead",
            actions: ["recordFailure", "explainDeath", { type: "recordAttempt", params: failedAttempt(false) }]
          }
        ],
        LEASE_EXPIRED: [
          {
            guard: "rescueBudgetLeft",
            target: "retry_wait",
            actions: [
              "recordFailure",
              { type: "schedule", params: (a) => ({ atMs: retryOf(a).atMs }) },
              { type: "recordAttempt", params: failedAttempt(true) }
            ]
          },
          {
            target: "dead",
            actions: ["recordFailure", "explainDeath", { type: "recordAttempt", params: failedAttempt(false) }]
          }
        ],
        RELEASE: {
          target: "pending",
          actions: ["giveBackLease", { type: "schedule", params: ({ event }) => ({ atMs: event.type === "RELEASE" ? event.dueAt : event.now }) }]
        },
        CANCEL: { target: "cancelled", actions: "markCancelled" }
      }
    },
    retry_wait: {
      on: {
        DUE: { target: "pending", actions: { type: "schedule", params: scheduleNow } },
        CANCEL: { target: "cancelled", actions: "markCancelled" },
        SKIP: { target: "skipped", actions: "markSkipped" }
      }
    },
    sent: { type: "final" },
    dead: { on: { REQUEUE: { target: "pending", actions: ["resetBudget", { type: "schedule", params: scheduleNow }] } } },
    skipped: {
      on: { REQUEUE: { target: "pending", actions: ["resetBudget", { type: "schedule", params: scheduleNow }] } }
    },
    cancelled: {
      on: { REQUEUE: { target: "pending", actions: ["resetBudget", { type: "schedule", params: scheduleNow }] } }
    }
  }
})

export type DeliverySnapshot = SnapshotFrom<typeof deliveryMachine>

/** A step's result: the next state and context, and what the runtime must do. */
export interface Stepped {
  readonly _tag: "Stepped"
  readonly status: DeliveryStatus
  readonly context: DeliveryContext
  readonly schedule: ScheduleParams | null
  readonly attempt: AttemptParams | null
}

const whyIllegal = (state: DeliveryStatus, event: DeliveryEventType): string => {
  if (state === "sent") return "a sent delivery is final: it reached its sink and is never sent again"
  if (event === "REQUEUE") return "only dead, skipped or cancelled deliveries can be requeued; this one is still in flight"
  if (event === "CANCEL") return "only pending, leased or waiting deliveries can be cancelled"
  if (event === "CLAIM") return "only a pending delivery can be claimed"
  if (event === "DUE") return "only a delivery waiting for a retry can become due"
  if (event === "RELEASE") return "only a leased delivery can give its lease back"
  if (event === "SKIP") return "only a pending or waiting delivery can be skipped"
  return "an outcome can only be recorded for a leased delivery"
}

const pureStep = makePureStep(deliveryMachine, {
  attempts: 0,
  maxAttempts: 1,
  rescues: 0,
  leaseOwner: null,
  leaseExpiresAt: null,
  lastErrorCode: null,
  lastError: null,
  externalId: null,
  reason: null
} satisfies DeliveryContext)

/** The snapshot of a persisted delivery: its status is the state, its columns the context. */
export const snapshotOf = (status: DeliveryStatus, context: DeliveryContext): DeliverySnapshot =>
  deliveryMachine.resolveState({ value: status, context })

/**
 * One transition. An event that does not apply is an IllegalTransition (XState would
 * silently ignore it, and a delivery that silently ignores an outcome loses it).
 */
export const step = (
  status: DeliveryStatus,
  context: DeliveryContext,
  event: DeliveryEvent
): Stepped | IllegalTransition => {
  const before = snapshotOf(status, context)
  const [after, actions] = pureStep(before, event)
  if (after === before || after.value === before.value && after.context === before.context) {
    return new IllegalTransition({ state: status, event: event.type, reason: whyIllegal(status, event.type) })
  }
  let schedule: ScheduleParams | null = null
  let attempt: AttemptParams | null = null
  for (const a of actions) {
    if (a.type === "schedule") schedule = a.params as ScheduleParams
    else if (a.type === "recordAttempt") attempt = a.params as AttemptParams
  }
  return { _tag: "Stepped", status: after.value as DeliveryStatus, context: after.context, schedule, attempt }
}

const contextKey = (status: DeliveryStatus, c: DeliveryContext) =>
  `${status}\u0000${c.attempts}\u0000${c.maxAttempts}\u0000${c.rescues}\u0000${c.leaseOwner}\u0000${c.leaseExpiresAt}\u0000${c.lastErrorCode}\u0000${c.lastError}\u0000${c.externalId}\u0000${c.reason}`

/**
 * Steps many deliveries with one event. Sound because the machine is pure and its context
 * holds no per-delivery identity: equal (status, context) pairs give equal results, so a
 * batch of fresh deliveries costs one real transition instead of one each.
 */
export const stepAll = (
  items: ReadonlyArray<{ readonly status: DeliveryStatus; readonly context: DeliveryContext }>,
  event: DeliveryEvent
): Array<Stepped | IllegalTransition> => {
  const memo = new Map<string, Stepped | IllegalTransition>()
  return items.map(({ context, status }) => {
    const key = contextKey(status, context)
    let result = memo.get(key)
    if (result === undefined) {
      result = step(status, context, event)
      memo.set(key, result)
    }
    return result
  })
}
