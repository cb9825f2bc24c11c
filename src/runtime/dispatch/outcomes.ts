/**
 * The dispatcher's pure pieces: what it hands a sink, what a finished call counts as, the
 * events it steps the delivery machine with, and the circuit fact an outcome is.
 */
import { Cause, Effect, Exit, type Fiber, Option } from "effect"
import type { HeldBy } from "../../domain/Delivery.js"
import { IllegalTransition } from "../../domain/errors.js"
import type { Settings } from "../../domain/Settings.js"
import type { SinkDelivery, SinkReceipt } from "../../domain/Sink.js"
import { SinkFailure } from "../../domain/Sink.js"
import { type DeliveryEvent, step, stepAll } from "../../machines/delivery.js"
import type { ClaimRow, Transition } from "../../store/DeliveryStore.js"
import type { CircuitFact } from "../Circuits.js"
import { timeoutFailure } from "../internal/callTimeout.js"
import { contextOf, toTransition } from "../internal/transitions.js"
import type { RetrySchedules } from "../RetrySchedules.js"

/** A leased row in this dispatcher's hands, with the time it was due when claimed (where RELEASE puts it back). */
export interface Claimed extends ClaimRow {
  readonly dueAt: number
  /** What held it back after it was due (its attempt records it). */
  readonly heldBy: HeldBy | null
}

export interface InFlight {
  row: Claimed
  /** Whether its sink call has started: a lease whose call never started is given back without an attempt. */
  started: boolean
  /** The worker running this delivery's sink call, while it runs. */
  fiber: Fiber.RuntimeFiber<unknown, unknown> | null
  /** When the running call is cut short. */
  deadline: number
  /** Set by the watchdog before it interrupts the call. */
  timedOut: boolean
}

export interface Outcome {
  readonly row: Claimed
  readonly startedAt: number
  readonly finishedAt: number
  readonly exit: Exit.Exit<SinkReceipt, SinkFailure>
}

/** Calls under way at once within one claimed batch. */
export const sinkConcurrency = 64

export const toSinkDelivery = (row: ClaimRow): SinkDelivery => ({
  deliveryId: row.id,
  idempotencyKey: row.id,
  attempt: row.attempts + 1,
  sink: row.sink,
  notification: {
    id: row.notificationId,
    kind: row.kind,
    priority: row.priority,
    title: row.title,
    body: row.body,
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    projectId: row.projectId,
    sessionId: row.sessionId,
    createdAt: row.notificationCreatedAt
  }
})

export const interruptedFailure = new SinkFailure({ retryable: true, code: "interrupted", message: "the sink call was interrupted" })

const noReceipt: Exit.Exit<SinkReceipt, SinkFailure> = Exit.succeed({})

/** The attempt's timing as it is recorded, with what held the call back. */
export const timingOf = (o: Outcome) => ({ startedAt: o.startedAt, finishedAt: o.finishedAt, heldBy: o.row.heldBy })

/**
 * An outcome as the sink's circuit counts it. An interruption (a graceful stop cut the call
 * short) says nothing about the sink: it counts as given back, not as a failure.
 */
export const factOf = (o: Outcome): CircuitFact => {
  const { id: deliveryId, sink } = o.row
  if (Exit.isSuccess(o.exit)) return { _tag: "succeeded", sink, deliveryId }
  const failure = Cause.failureOption(o.exit.cause)
  const f = Option.isSome(failure) ? failure.value : interruptedFailure
  return f.code === interruptedFailure.code
    ? { _tag: "released", sink, deliveryId }
    : { _tag: "failed", sink, deliveryId, retryable: f.retryable, code: f.code, message: f.message }
}

/**
 * A success as the runtime records it. An embedder's sink is plain JavaScript and may answer
 * anything (undefined, a number for externalId): only a string externalId is kept, at most
 * 1,000 characters, so one odd answer can never fail the outcome batch it is persisted in.
 */
const successOf = (receipt: unknown): Exit.Exit<SinkReceipt, SinkFailure> => {
  const externalId = (receipt as { externalId?: unknown } | null | undefined)?.externalId
  return typeof externalId === "string" ? Exit.succeed({ externalId: externalId.slice(0, 1_000) }) : noReceipt
}

/** What a finished call counts as: its own result, or a timeout, defect or interruption as a retryable failure. */
export const outcomeOf = (exit: Exit.Exit<SinkReceipt, SinkFailure>, timedOut: boolean): Exit.Exit<SinkReceipt, SinkFailure> => {
  if (timedOut) return Exit.fail(timeoutFailure)
  if (Exit.isSuccess(exit)) return successOf(exit.value)
  if (Option.isSome(Cause.failureOption(exit.cause))) return exit
  const defect = Cause.dieOption(exit.cause)
  return Option.isSome(defect)
    ? Exit.fail(new SinkFailure({ retryable: true, code: "sink_defect", message: defect.value instanceof Error ? defect.value.message : String(defect.value) }))
    : Exit.fail(interruptedFailure)
}

/** Steps claimed rows with CLAIM (retry_wait rows become DUE first); returns the fenced writes. */
export const claimTransitions = (rows: ReadonlyArray<ClaimRow>, owner: string, leaseMs: number, now: number) => {
  const due: DeliveryEvent = { type: "DUE", now }
  const claim: DeliveryEvent = { type: "CLAIM", now, owner, leaseMs }
  const ready = rows.map((row) => {
    if (row.status !== "retry_wait") return { row, status: row.status, context: contextOf(row) }
    const s = step(row.status, contextOf(row), due)
    return s instanceof IllegalTransition ? { row, status: row.status, context: contextOf(row) } : { row, status: s.status, context: s.context }
  })
  const stepped = stepAll(ready, claim)
  const out: Array<Transition> = []
  stepped.forEach((s, i) => {
    if (s instanceof IllegalTransition) return
    out.push(toTransition(ready[i]!.row, s, now, null))
  })
  return out
}

/**
 * The FAIL event for a sink's failure (a defect or interruption counts as retryable), with the
 * delay the sink's retry Schedule gives this attempt. A failure that cannot be retried anyway
 * (permanent, or the budget spent) does not step the Schedule.
 */
export const failEvent = (
  retries: RetrySchedules["Type"],
  settings: Settings,
  row: Pick<ClaimRow, "id" | "sink" | "attempts" | "maxAttempts">,
  exit: Exit.Exit<SinkReceipt, SinkFailure>,
  now: number
): Effect.Effect<DeliveryEvent> => {
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none<SinkFailure>()
  const f = Option.isSome(failure) ? failure.value : interruptedFailure
  const attempt = row.attempts + 1
  const delay = f.retryable && attempt < row.maxAttempts ? retries.delayOf(settings, row.sink, row.id, attempt, f) : Effect.succeed(null)
  return Effect.map(delay, (delayMs): DeliveryEvent => ({
    type: "FAIL",
    now,
    delayMs,
    retryable: f.retryable,
    code: f.code,
    message: f.message,
    retryAfterMs: f.retryAfterMs
  }))
}

