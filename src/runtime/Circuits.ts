/**
 * The circuit breaker runtime: drives one circuit machine (src/machines/circuit.ts) per push
 * sink from the dispatcher's outcomes, claims and timers, and persists each step in the
 * caller's transaction (CircuitStore). Every read happens inside the write transaction, so
 * several processes on one database see and step the same circuit. The cooldown "timer" is the
 * persisted `probeAt`: the dispatcher wakes at it and steps COOLDOWN_OVER in its next claim,
 * which is also how a restart resumes an open circuit. A sink without a breaker still gets a
 * row when it fails, for its last error (GET /v1/sinks).
 */
import { Clock, Effect } from "effect"
import { CircuitTransitionRefused } from "../domain/errors.js"
import type { DeliveryId } from "../domain/Ids.js"
import { circuitPolicyOf, type Settings } from "../domain/Settings.js"
import { admission, type CircuitEvent, type CircuitStatus, closedCircuit, step } from "../machines/circuit.js"
import { type CircuitRow, CircuitStore } from "../store/CircuitStore.js"
import { Writer } from "../store/Writer.js"

/** What a delivery's call (or its lease) came to, as the breaker counts it. */
export type CircuitFact =
  | { readonly _tag: "succeeded"; readonly sink: string; readonly deliveryId: string }
  | { readonly _tag: "failed"; readonly sink: string; readonly deliveryId: string; readonly retryable: boolean; readonly code: string; readonly message: string }
  | { readonly _tag: "released"; readonly sink: string; readonly deliveryId: string }

/** What the claim may do per sink whose circuit is not closed, and when the first cooldown ends. */
export interface Admissions {
  /** `probe`: claim one delivery and take it as the probe; `hold`: claim none. Sinks not listed are closed. */
  readonly held: ReadonlyMap<string, "probe" | "hold">
  /** The earliest `probeAt` of an open circuit (Infinity: none). */
  readonly nextProbeAt: number
}

type Row = Omit<CircuitRow, "version">

const fresh = (sink: string, now: number): Row => ({ sink, status: "closed", context: closedCircuit, lastErrorAt: null, updatedAt: now })

export class Circuits extends Effect.Service<Circuits>()("herald/Circuits", {
  effect: Effect.gen(function* () {
    const store = yield* CircuitStore
    const writer = yield* Writer

    /** One machine step of a row; a refusal leaves the row as it was and is logged with its reason. */
    const apply = (row: Row, event: CircuitEvent): Effect.Effect<{ readonly row: Row; readonly changed: boolean }> => {
      const s = step(row.status, row.context, event)
      if (s instanceof CircuitTransitionRefused) {
        return Effect.as(
          Effect.logDebug(new CircuitTransitionRefused({ ...s, sink: row.sink }).message),
          { row, changed: false }
        )
      }
      const moved = s.status !== row.status
      const log = moved
        ? (s.status === "closed" ? Effect.logInfo : Effect.logWarning)(`circuit of sink ${row.sink} is ${s.status}: ${s.context.reason}`)
        : Effect.void
      return Effect.as(log, { row: { ...row, status: s.status, context: s.context, updatedAt: event.now }, changed: s.changed })
    }

    const eventOf = (settings: Settings, fact: CircuitFact, now: number): CircuitEvent | null => {
      const deliveryId = fact.deliveryId as DeliveryId
      switch (fact._tag) {
        case "succeeded":
          return { type: "SUCCEEDED", now, deliveryId }
        case "released":
          return { type: "RELEASED", now, deliveryId }
        case "failed": {
          const policy = circuitPolicyOf(settings.sinks[fact.sink])
          return policy === null ? null : { type: "FAILED", now, deliveryId, retryable: fact.retryable, code: fact.code, message: fact.message, policy }
        }
      }
    }

    /**
     * Inside the caller's transaction: steps each sink's circuit with its outcomes, in order,
     * and writes the rows that changed. Returns the status after, per sink it stepped. A
     * sink's failure is kept as its last error whether or not it has a breaker.
     */
    const record = (settings: Settings, facts: ReadonlyArray<CircuitFact>, now: number) =>
      Effect.gen(function* () {
        const after = new Map<string, CircuitStatus>()
        const relevant = facts.filter((f) => f._tag === "failed" || circuitPolicyOf(settings.sinks[f.sink]) !== null)
        if (relevant.length === 0) return after
        const rows = yield* store.of([...new Set(relevant.map((f) => f.sink))])
        const dirty = new Map<string, Row>()
        for (const fact of relevant) {
          let row: Row = dirty.get(fact.sink) ?? rows.get(fact.sink) ?? fresh(fact.sink, now)
          let changed = false
          const event = circuitPolicyOf(settings.sinks[fact.sink]) === null ? null : eventOf(settings, fact, now)
          if (event !== null) ({ row, changed } = yield* apply(row, event))
          if (fact._tag === "failed") {
            row = { ...row, lastErrorAt: now, updatedAt: now, context: { ...row.context, lastErrorCode: fact.code, lastError: fact.message } }
            changed = true
          }
          if (changed) dirty.set(fact.sink, row)
          if (event !== null) after.set(fact.sink, row.status)
        }
        yield* store.write([...dirty.values()])
        return after
      })

    /**
     * Inside the claim's transaction: the circuits that are not closed, after moving those whose
     * cooldown is over to half_open and closing those whose breaker was removed from the settings.
     */
    const admissions = (settings: Settings, now: number) =>
      Effect.gen(function* () {
        const held = new Map<string, "probe" | "hold">()
        let nextProbeAt = Infinity
        const dirty: Array<Row> = []
        for (const stored of yield* store.notClosed) {
          let row: Row = stored
          let changed = false
          const policy = circuitPolicyOf(settings.sinks[row.sink])
          if (policy === null) ({ row, changed } = yield* apply(row, { type: "POLICY_CHANGED", now, policy: null }))
          else if (row.status === "open" && row.context.probeAt !== null && now >= row.context.probeAt) {
            ;({ row, changed } = yield* apply(row, { type: "COOLDOWN_OVER", now }))
          }
          if (changed) dirty.push(row)
          if (row.status === "closed") continue
          held.set(row.sink, admission(row.status, row.context) === "probe" ? "probe" : "hold")
          if (row.status === "open" && row.context.probeAt !== null) nextProbeAt = Math.min(nextProbeAt, row.context.probeAt)
        }
        yield* store.write(dirty)
        return { held, nextProbeAt } satisfies Admissions
      })

    /** Inside the claim's transaction: takes `deliveryId` as the half-open circuit's one probe; false if refused. */
    const takeProbe = (sink: string, deliveryId: string, now: number) =>
      Effect.gen(function* () {
        const stored = (yield* store.of([sink])).get(sink)
        if (stored === undefined) return false
        const { row, changed } = yield* apply(stored, { type: "PROBE", now, deliveryId: deliveryId as DeliveryId })
        if (changed) yield* store.write([row])
        return changed
      })

    /**
     * Inside the rescue's transaction: a probe whose lease expired (its process crashed) is a
     * failed probe, so the circuit reopens instead of waiting for an outcome that cannot come.
     * Other rescued deliveries do not count: an expired lease says the process died, not the sink.
     */
    const probesLost = (settings: Settings, rescued: ReadonlyArray<{ readonly id: string; readonly sink: string }>, now: number) =>
      Effect.gen(function* () {
        if (rescued.length === 0) return
        const open = (yield* store.notClosed).filter((r) => r.context.probeDeliveryId !== null)
        const lost = open.filter((r) => rescued.some((d) => d.id === r.context.probeDeliveryId && d.sink === r.sink))
        if (lost.length === 0) return
        yield* record(settings, lost.map((r) => ({
          _tag: "failed" as const, sink: r.sink, deliveryId: r.context.probeDeliveryId!, retryable: true,
          code: "lease_expired", message: "the probe's lease expired before its outcome was written"
        })), now)
      })

    /** An operator closes the sink's circuit (its own transaction); the row as it is after, or undefined if it never failed. */
    const reset = (sink: string) =>
      writer.transaction(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const stored = (yield* store.of([sink])).get(sink)
        if (stored === undefined || stored.status === "closed") return stored
        const { row, changed } = yield* apply(stored, { type: "RESET", now })
        if (changed) yield* store.write([row])
        return { ...row, version: stored.version + (changed ? 1 : 0) }
      }))

    return { record, admissions, takeProbe, probesLost, reset, all: store.all } as const
  })
}) {}
