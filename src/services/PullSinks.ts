/**
 * Pull sinks (the desktop app): a consumer claims due deliveries over the API with a lease,
 * then settles each with ack or nack, fenced on that lease. Push sinks are the Dispatcher's.
 */
import { Clock, Effect, Exit, Schema } from "effect"
import { decodeInput } from "../domain/decode.js"
import type { Delivery } from "../domain/Delivery.js"
import { DeliveryNotFound, IllegalTransition, InvalidInput, StaleWrite } from "../domain/errors.js"
import { pullSinkTypes, type Settings, sinkNamed } from "../domain/Settings.js"
import { SinkFailure } from "../domain/Sink.js"
import { type DeliveryEvent, step } from "../machines/delivery.js"
import { DeliveryStore } from "../store/DeliveryStore.js"
import type { DeliveryRow } from "../store/DeliveryStore.js"
import { claimTransitions, failEvent } from "../runtime/Dispatcher.js"
import { toClaimed, toDelivery } from "../store/domainRows.js"
import { contextOf, rowAfter, toTransition } from "../runtime/internal/transitions.js"
import { RetrySchedules } from "../runtime/RetrySchedules.js"
import { SettingsStore } from "../store/SettingsStore.js"
import { Writer } from "../store/Writer.js"

const ClaimInput = Schema.Struct({
  sink: Schema.String,
  owner: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 500)), { default: () => 10 }),
  leaseMs: Schema.optional(Schema.Int.pipe(Schema.between(1_000, 3_600_000)))
})
/** `version` is `delivery.version` from the claim answer: it fences an outcome to that one lease. */
const leaseVersion = Schema.Int.pipe(Schema.nonNegative())
const AckInput = Schema.Struct({
  owner: Schema.String,
  version: leaseVersion,
  externalId: Schema.optional(Schema.String.pipe(Schema.maxLength(1_000)))
})
const NackInput = Schema.Struct({
  owner: Schema.String,
  version: leaseVersion,
  code: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  message: Schema.String.pipe(Schema.maxLength(10_000)),
  retryable: Schema.Boolean,
  retryAfterMs: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})

const decodeClaim = decodeInput(ClaimInput, "claim")
const decodeAck = decodeInput(AckInput, "ack")
const decodeNack = decodeInput(NackInput, "nack")

export class PullSinks extends Effect.Service<PullSinks>()("herald/PullSinks", {
  effect: Effect.gen(function* () {
    const writer = yield* Writer
    const settingsStore = yield* SettingsStore
    const deliveries = yield* DeliveryStore
    const retrySchedules = yield* RetrySchedules

    /** A pull sink's consumer leases up to `limit` due deliveries; two claimers never share one. */
    const claim = Effect.fn("PullSinks.claim")(function* (input: unknown) {
      const req = yield* decodeClaim(input)
      const settings = yield* settingsStore.get
      const sink = sinkNamed(settings, req.sink)
      if (sink === undefined || !pullSinkTypes.has(sink.type)) {
        return yield* new InvalidInput({
          what: "claim",
          issues: [{ path: "sink", message: sink === undefined ? `no sink named '${req.sink}'` : `sink '${req.sink}' is a push sink (${sink.type}); only pull sinks are claimed` }]
        })
      }
      const leaseMs = req.leaseMs ?? settings.leaseMs
      return yield* writer.transaction(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* deliveries.due(req.sink, now, req.limit)
        const transitions = claimTransitions(rows, req.owner, leaseMs, now)
        const written = yield* deliveries.persist(transitions)
        const byId = new Map(rows.map((r) => [r.id, r]))
        return transitions.filter((t) => written.has(t.id)).map((t) => toClaimed(rowAfter(byId.get(t.id)!, t)))
      }))
    })

    /** Records a pull consumer's outcome, fenced on its lease: a wrong owner or an expired lease is StaleWrite. */
    const settle = (id: string, owner: string, version: number, eventOf: (now: number, s: Settings, row: DeliveryRow) => Effect.Effect<DeliveryEvent>) =>
      writer.transaction(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const settings = yield* settingsStore.get
        const row = (yield* deliveries.byIds([id]))[0]
        if (row === undefined) return yield* new DeliveryNotFound({ deliveryId: id })
        const deliveryId = id as Delivery["id"]
        if (row.status !== "leased") {
          return yield* new StaleWrite({ deliveryId, reason: `it is ${row.status}, not leased: the lease expired or it was settled already` })
        }
        if (row.leaseOwner !== owner) return yield* new StaleWrite({ deliveryId, reason: `it is leased by another owner, not '${owner}'` })
        if (row.version !== version) {
          return yield* new StaleWrite({ deliveryId, reason: `lease version ${version} is no longer current (now ${row.version}): it was rescued and claimed again; settle the newer claim` })
        }
        if ((row.leaseExpiresAt ?? 0) <= now) return yield* new StaleWrite({ deliveryId, reason: "the lease expired; claim it again" })
        const s = step(row.status, contextOf(row), yield* eventOf(now, settings, row))
        if (s instanceof IllegalTransition) return yield* new IllegalTransition({ ...s, deliveryId })
        const t = toTransition(row, s, now, owner, { startedAt: row.updatedAt, finishedAt: now })
        const written = yield* deliveries.persist([t])
        if (!written.has(id)) return yield* new StaleWrite({ deliveryId, reason: "changed during the operation; try again" })
        return toDelivery(rowAfter(row, t))
      }))

    const ack = Effect.fn("PullSinks.ack")(function* (id: string, input: unknown) {
      const req = yield* decodeAck(input)
      return yield* settle(id, req.owner, req.version, (now) => Effect.succeed({ type: "SUCCEED", now, externalId: req.externalId }))
    })

    const nack = Effect.fn("PullSinks.nack")(function* (id: string, input: unknown) {
      const req = yield* decodeNack(input)
      const failure = new SinkFailure({ retryable: req.retryable, code: req.code, message: req.message, ...(req.retryAfterMs !== undefined ? { retryAfterMs: req.retryAfterMs } : {}) })
      return yield* settle(id, req.owner, req.version, (now, s, row) => failEvent(retrySchedules, s, row, Exit.fail(failure), now))
    })

    return { claim, ack, nack } as const
  })
}) {}
