/**
 * The circuit breaker machine, one actor per sink: closed -> open -> half_open -> closed | open.
 * Pure: time and the sink's breaker policy arrive on events; the runtime persists the snapshot
 * (a `circuits` row: the status and the context's columns) and interprets the returned actions.
 * Holding deliveries, timers, the probe's claim and change_log are the runtime's and the store's.
 *
 * Decisions (the runtime builds on them):
 * - Only retryable failures count. A permanent failure (410, 400) is an answer from a sink that
 *   is up: it never opens the circuit and it resets the consecutive count, as a success does.
 * - Outcome events (SUCCEEDED, FAILED, RELEASED) are facts about deliveries and are never
 *   refused: the runtime reports every outcome of the sink. One that must not move the circuit
 *   is answered with an `ignoreOutcome { reason }` action (for the log) and no change.
 * - Late outcomes. In `open` nothing is claimed, so every outcome is from a call that started
 *   before it opened: a late success does not close it (it says the sink answered some time
 *   ago, not now; only the probe decides) and a late failure neither counts nor extends the
 *   cooldown. In `half_open` only the outcome whose deliveryId is `probeDeliveryId` decides.
 * - The probe: a retryable failure reopens with the next cooldown; a success closes; a
 *   permanent failure also closes (the sink answered). A probe given back without an outcome
 *   (RELEASED: graceful stop, cancel) frees the slot and admits another; an expired lease is a
 *   retryable FAILED with code `lease_expired`, so a probe lost in a crash reopens the circuit.
 * - Cooldown of the n-th open in a row: clamp(cooldownMs * factor^(n-1), cooldownMs, cap) with
 *   cap = max(cooldownMs, maxCooldownMs), from the policy on the FAILED that opened it; closing
 *   resets `opens`, so the next outage starts from the base again.
 * - COOLDOWN_OVER before `probeAt` is refused (a timer that fired early, or one from an older
 *   open): the runtime re-arms it from the persisted `probeAt`, which is also how it re-arms
 *   timers after a restart. `scheduleProbe` is the same fact as an action.
 * - POLICY_CHANGED with `policy: null` (the breaker removed from the sink's settings) closes it
 *   from any state. With a policy it changes nothing now: the armed cooldown stands, the new
 *   threshold and cooldowns apply from the next failure (a count above a lowered threshold
 *   opens on the next retryable failure, not on the settings write).
 * - RESET (operator) closes it from any state, clearing counts and the cooldown ladder; a probe
 *   still in flight then answers a closed circuit and counts like any call.
 * - PROBE is refused unless half_open with no probe in flight: two dispatchers racing for the
 *   probe get one Stepped and one refusal, and the loser gives its delivery back (RELEASE).
 *
 * Result of `step`: `Stepped { status, context, changed, actions }` or a CircuitTransitionRefused
 * (with the reason). `changed` says whether the row must be written (status or a column
 * differs); an unchanged step writes nothing and announces nothing. Actions:
 * - `scheduleProbe { atMs }`: entering open; send COOLDOWN_OVER at `atMs`.
 * - `cancelProbe`: left open before the cooldown was over (RESET, breaker removed); drop the timer.
 * - `admitProbe`: half_open with a free probe slot; the dispatcher may claim one delivery of
 *   this sink now and must send PROBE with its id before calling the sink.
 * - `resumeDeliveries`: closed again; held deliveries (`waitReason: circuit_open`) are claimable.
 * - `ignoreOutcome { reason }`: an outcome that did not move the circuit.
 */
import { assign, setup, type SnapshotFrom } from "xstate"
import { CircuitTransitionRefused } from "../domain/errors.js"
import type { DeliveryId } from "../domain/Ids.js"
import { makePureStep } from "./internal/pureStep.js"

export const circuitStatuses = ["closed", "open", "half_open"] as const
export type CircuitStatus = typeof circuitStatuses[number]

/** A sink's breaker settings at the moment of the event (`circuit` in the settings, with defaults filled in). */
export interface CircuitPolicy {
  readonly failureThreshold: number
  /** The first cooldown of an outage. */
  readonly cooldownMs: number
  readonly maxCooldownMs: number
  /** Each reopen in a row multiplies the cooldown by this. */
  readonly factor: number
}

/** Plain columns a `circuits` row can hold. */
export interface CircuitContext {
  /** Retryable failures in a row since it last closed (reset by a success or a permanent failure). */
  readonly consecutiveFailures: number
  /** Opens in a row since it last closed: 1 on the first open, +1 per failed probe. */
  readonly opens: number
  /** The cooldown of the current open; null while closed. */
  readonly cooldownMs: number | null
  /** When this outage began (the first open since it last closed); null while closed. */
  readonly openedAt: number | null
  /** When the cooldown is over and a probe may go; null while closed. */
  readonly probeAt: number | null
  /** The one probe in flight while half_open, else null. */
  readonly probeDeliveryId: DeliveryId | null
  /** The last retryable failure counted: why it is open (kept after it closes, for the record). */
  readonly lastErrorCode: string | null
  readonly lastError: string | null
  /** Why it is in its current status (what the last change of status was). */
  readonly reason: string | null
}

export type CircuitEvent =
  | { readonly type: "SUCCEEDED"; readonly now: number; readonly deliveryId: DeliveryId }
  | {
    readonly type: "FAILED"
    readonly now: number
    readonly deliveryId: DeliveryId
    readonly retryable: boolean
    readonly code: string
    readonly message: string
    readonly policy: CircuitPolicy
  }
  /** A delivery of the sink gave its lease back without an outcome (graceful stop, cancel). */
  | { readonly type: "RELEASED"; readonly now: number; readonly deliveryId: DeliveryId }
  /** The runtime's timer at `probeAt`. */
  | { readonly type: "COOLDOWN_OVER"; readonly now: number }
  /** The dispatcher claimed this delivery as the half-open circuit's one probe. */
  | { readonly type: "PROBE"; readonly now: number; readonly deliveryId: DeliveryId }
  /** An operator closes the circuit (POST /v1/sinks/:name/reset). */
  | { readonly type: "RESET"; readonly now: number }
  /** The sink's settings were written; null when its breaker was removed. */
  | { readonly type: "POLICY_CHANGED"; readonly now: number; readonly policy: CircuitPolicy | null }

export type CircuitEventType = CircuitEvent["type"]

export type CircuitAction =
  | { readonly type: "scheduleProbe"; readonly atMs: number }
  | { readonly type: "cancelProbe" }
  | { readonly type: "admitProbe" }
  | { readonly type: "resumeDeliveries" }
  | { readonly type: "ignoreOutcome"; readonly reason: string }

/** Params of the `scheduleProbe` action: the runtime sends COOLDOWN_OVER at `atMs`. */
export interface ScheduleProbeParams {
  readonly atMs: number
}

/** Params of the `ignoreOutcome` action: why an outcome did not move the circuit. */
export interface IgnoreOutcomeParams {
  readonly reason: string
}

/** A circuit that has never failed. */
export const closedCircuit: CircuitContext = {
  consecutiveFailures: 0,
  opens: 0,
  cooldownMs: null,
  openedAt: null,
  probeAt: null,
  probeDeliveryId: null,
  lastErrorCode: null,
  lastError: null,
  reason: null
}

/** The cooldown of the n-th open in a row (n >= 1), always within [cooldownMs, max(cooldownMs, maxCooldownMs)]. */
export const cooldownFor = (policy: CircuitPolicy, opens: number): number => {
  const cap = Math.max(policy.cooldownMs, policy.maxCooldownMs)
  const grown = policy.cooldownMs * Math.pow(policy.factor, Math.max(0, opens - 1))
  // NaN (0 * Infinity) or a factor below 1 must not leave the bounds.
  return Number.isNaN(grown) ? policy.cooldownMs : Math.min(cap, Math.max(policy.cooldownMs, grown))
}

type Failed = Extract<CircuitEvent, { type: "FAILED" }>
type Ctx = { readonly context: CircuitContext; readonly event: CircuitEvent }

const isProbe = ({ context, event }: Ctx) =>
  context.probeDeliveryId !== null && "deliveryId" in event && event.deliveryId === context.probeDeliveryId
const retryable = ({ event }: Ctx) => event.type === "FAILED" && event.retryable

const whyClosed = (event: CircuitEvent): string =>
  event.type === "RESET"
    ? "reset by an operator"
    : event.type === "POLICY_CHANGED"
    ? "the circuit breaker was removed from the sink's settings"
    : event.type === "FAILED"
    ? `the probe got a permanent error (${event.code}): the sink answers`
    : "the probe succeeded"

export const circuitMachine = setup({
  types: {
    context: {} as CircuitContext,
    events: {} as CircuitEvent,
    input: {} as CircuitContext
  },
  guards: {
    reachesThreshold: ({ context, event }) =>
      event.type === "FAILED" && event.retryable && context.consecutiveFailures + 1 >= event.policy.failureThreshold,
    retryable,
    probeFailedRetryably: (a) => isProbe(a) && retryable(a),
    isProbe,
    cooldownElapsed: ({ context, event }) => context.probeAt !== null && event.now >= context.probeAt,
    noProbeInFlight: ({ context }) => context.probeDeliveryId === null,
    breakerRemoved: ({ event }) => event.type === "POLICY_CHANGED" && event.policy === null
  },
  actions: {
    countFailure: assign(({ context, event }) => {
      const e = event as Failed
      return { consecutiveFailures: context.consecutiveFailures + 1, lastErrorCode: e.code, lastError: e.message }
    }),
    forgetFailures: assign({ consecutiveFailures: 0 }),
    /** After countFailure: the first open of an outage, or a reopen after a failed probe. */
    openCircuit: assign(({ context, event }) => {
      const e = event as Failed
      const opens = context.opens + 1
      const cooldownMs = cooldownFor(e.policy, opens)
      return {
        opens,
        cooldownMs,
        openedAt: context.openedAt ?? e.now,
        probeAt: e.now + cooldownMs,
        probeDeliveryId: null,
        reason: opens === 1
          ? `${context.consecutiveFailures} consecutive retryable failures (last: ${e.code})`
          : `the probe failed (${e.code}): open ${opens} times in a row`
      }
    }),
    halfOpen: assign({ reason: "the cooldown is over: one probe may go" }),
    takeProbe: assign(({ event }) => (event.type === "PROBE" ? { probeDeliveryId: event.deliveryId } : {})),
    freeProbe: assign({ probeDeliveryId: null }),
    /** Closing keeps the last counted error for the record; everything else is a fresh circuit. */
    closeCircuit: assign(({ context, event }) => ({
      ...closedCircuit,
      reason: whyClosed(event),
      lastErrorCode: context.lastErrorCode,
      lastError: context.lastError
    })),
    /** An event that legitimately changes nothing (a new policy applies from the next failure). */
    keep: assign({}),
    scheduleProbe: (_, _params: ScheduleProbeParams) => {},
    cancelProbe: () => {},
    admitProbe: () => {},
    resumeDeliveries: () => {},
    ignoreOutcome: (_, _params: IgnoreOutcomeParams) => {}
  }
}).createMachine({
  id: "circuit",
  initial: "closed",
  context: ({ input }) => input,
  states: {
    closed: {
      on: {
        FAILED: [
          {
            guard: "reachesThreshold",
            target: "open",
            actions: [
              "countFailure",
              "openCircuit",
              { type: "scheduleProbe", params: ({ context }) => ({ atMs: context.probeAt! }) }
            ]
          },
          { guard: "retryable", actions: "countFailure" },
          // A permanent failure is an answer: the sink is up, so the failures in a row end here.
          { actions: "forgetFailures" }
        ],
        SUCCEEDED: { actions: "forgetFailures" },
        RELEASED: {
          actions: {
            type: "ignoreOutcome",
            params: { reason: "a delivery given back without an outcome says nothing about the sink" }
          }
        },
        RESET: { actions: "forgetFailures" },
        POLICY_CHANGED: [{ guard: "breakerRemoved", actions: "forgetFailures" }, { actions: "keep" }]
      }
    },
    open: {
      on: {
        COOLDOWN_OVER: { guard: "cooldownElapsed", target: "half_open", actions: ["halfOpen", "admitProbe"] },
        SUCCEEDED: {
          actions: {
            type: "ignoreOutcome",
            params: { reason: "this call started before the circuit opened: only the probe after the cooldown closes it" }
          }
        },
        FAILED: {
          actions: {
            type: "ignoreOutcome",
            params: {
              reason: "this call started before the circuit opened: it neither counts nor extends the cooldown"
            }
          }
        },
        RELEASED: {
          actions: {
            type: "ignoreOutcome",
            params: { reason: "a delivery given back without an outcome says nothing about the sink" }
          }
        },
        RESET: { target: "closed", actions: ["closeCircuit", "cancelProbe", "resumeDeliveries"] },
        POLICY_CHANGED: [
          { guard: "breakerRemoved", target: "closed", actions: ["closeCircuit", "cancelProbe", "resumeDeliveries"] },
          { actions: "keep" }
        ]
      }
    },
    half_open: {
      on: {
        PROBE: { guard: "noProbeInFlight", actions: "takeProbe" },
        SUCCEEDED: [
          { guard: "isProbe", target: "closed", actions: ["closeCircuit", "resumeDeliveries"] },
          {
            actions: {
              type: "ignoreOutcome",
              params: { reason: "only the probe's outcome decides a half-open circuit" }
            }
          }
        ],
        FAILED: [
          {
            guard: "probeFailedRetryably",
            target: "open",
            actions: [
              "countFailure",
              "openCircuit",
              { type: "scheduleProbe", params: ({ context }) => ({ atMs: context.probeAt! }) }
            ]
          },
          { guard: "isProbe", target: "closed", actions: ["closeCircuit", "resumeDeliveries"] },
          {
            actions: {
              type: "ignoreOutcome",
              params: { reason: "only the probe's outcome decides a half-open circuit" }
            }
          }
        ],
        RELEASED: [
          { guard: "isProbe", actions: ["freeProbe", "admitProbe"] },
          {
            actions: {
              type: "ignoreOutcome",
              params: { reason: "a delivery given back without an outcome says nothing about the sink" }
            }
          }
        ],
        RESET: { target: "closed", actions: ["closeCircuit", "resumeDeliveries"] },
        POLICY_CHANGED: [
          { guard: "breakerRemoved", target: "closed", actions: ["closeCircuit", "resumeDeliveries"] },
          { actions: "keep" }
        ]
      }
    }
  }
})

export type CircuitSnapshot = SnapshotFrom<typeof circuitMachine>

/** A step's result: the next status and context, whether the row changed, and what the runtime must do. */
export interface Stepped {
  readonly _tag: "Stepped"
  readonly status: CircuitStatus
  readonly context: CircuitContext
  /** False when nothing a row holds changed: write nothing, announce nothing. */
  readonly changed: boolean
  readonly actions: ReadonlyArray<CircuitAction>
}

const whyRefused = (state: CircuitStatus, context: CircuitContext, event: CircuitEventType): string => {
  if (event === "COOLDOWN_OVER") {
    if (state === "closed") return "a closed circuit has no cooldown running"
    if (state === "half_open") return "the cooldown is already over: the circuit waits for its probe's outcome"
    return `the cooldown runs until ${context.probeAt}: a timer that fires early must be re-armed at probeAt`
  }
  if (event === "PROBE") {
    if (state === "closed") return "a closed circuit needs no probe: every delivery goes through"
    if (state === "open") return "an open circuit lets nothing through until its cooldown is over"
    return `a probe is already in flight (${context.probeDeliveryId}): a half-open circuit lets one delivery through`
  }
  return `${event} has no transition from ${state}`
}

const pureStep = makePureStep(circuitMachine, closedCircuit)

/** The snapshot of a persisted circuit: its status is the state, its columns the context. */
export const snapshotOf = (status: CircuitStatus, context: CircuitContext): CircuitSnapshot =>
  circuitMachine.resolveState({ value: status, context })

const sameContext = (a: CircuitContext, b: CircuitContext): boolean =>
  a.consecutiveFailures === b.consecutiveFailures && a.opens === b.opens && a.cooldownMs === b.cooldownMs &&
  a.openedAt === b.openedAt && a.probeAt === b.probeAt && a.probeDeliveryId === b.probeDeliveryId &&
  a.lastErrorCode === b.lastErrorCode && a.lastError === b.lastError && a.reason === b.reason

/**
 * One transition. An event with no transition is a CircuitTransitionRefused with its reason
 * (XState would silently ignore it, and a silently ignored PROBE would let two probes out).
 */
export const step = (
  status: CircuitStatus,
  context: CircuitContext,
  event: CircuitEvent
): Stepped | CircuitTransitionRefused => {
  const before = snapshotOf(status, context)
  const [after, executed] = pureStep(before, event)
  // Every transition of this machine assigns or emits an action, so an untouched snapshot with
  // nothing executed is a refusal (XState hands back the same snapshot for an actions-only
  // transition, so identity alone cannot tell them apart).
  if (after.value === before.value && after.context === before.context && executed.length === 0) {
    return new CircuitTransitionRefused({ state: status, event: event.type, reason: whyRefused(status, context, event.type) })
  }
  const actions = executed.map((a): CircuitAction => {
    switch (a.type) {
      case "scheduleProbe":
        return { type: "scheduleProbe", atMs: (a.params as ScheduleProbeParams).atMs }
      case "ignoreOutcome":
        return { type: "ignoreOutcome", reason: (a.params as IgnoreOutcomeParams).reason }
      default:
        return { type: a.type as "cancelProbe" | "admitProbe" | "resumeDeliveries" }
    }
  })
  const next = after.value as CircuitStatus
  return {
    _tag: "Stepped",
    status: next,
    context: after.context,
    changed: next !== status || !sameContext(after.context, context),
    actions
  }
}

/**
 * What the dispatcher may do with a delivery of this sink now. `admit`: claim as usual; `probe`:
 * claim one and send PROBE with its id before calling the sink; `hold`: leave it waiting
 * (`waitReason: circuit_open`) without spending an attempt. No clock is needed: an open circuit
 * holds until the runtime's COOLDOWN_OVER moves it, whatever the reader's clock says.
 */
export const admission = (status: CircuitStatus, context: CircuitContext): "admit" | "probe" | "hold" =>
  status === "closed" ? "admit" : status === "half_open" && context.probeDeliveryId === null ? "probe" : "hold"

/** May a delivery of this sink be claimed now (as a normal delivery or as the probe)? */
export const admits = (status: CircuitStatus, context: CircuitContext): boolean => admission(status, context) !== "hold"

/**
 * Until when a held delivery waits at least: `probeAt` while open (the earliest a probe may
 * go), null while half-open (it waits for the probe's outcome) or closed (it does not wait).
 */
export const heldUntil = (status: CircuitStatus, context: CircuitContext): number | null =>
  status === "open" ? context.probeAt : null
