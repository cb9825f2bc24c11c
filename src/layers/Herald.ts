/**
 * The Herald service (what embedders and the HTTP API use) and the layer that builds the
 * whole runtime from one config: SQLite, migrations, stores, router, dispatcher, supervisor.
 * Layer order is shutdown order: the runtime drains before the writer flushes and closes.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { SqlClient } from "@effect/sql"
import { Clock, Context, Effect, Exit, Layer, Option, Schema, type Stream } from "effect"
import type { ChangeEvent, Resync } from "../domain/ChangeEvent.js"
import { decodeInput } from "../domain/decode.js"
import { fastNotificationInput } from "../domain/fastNotificationInput.js"
import { Delivery, DeliveryFilter, type DeliveryStatus, type Page } from "../domain/Delivery.js"
import {
  type DatabaseTooNew,
  DeliveryNotFound,
  IllegalTransition,
  InvalidInput,
  NotificationNotFound,
  StaleWrite,
  type StorageUnavailable
} from "../domain/errors.js"
import { type Enqueued, Notification, NotificationInput } from "../domain/Notification.js"
import { pullSinkTypes, type Settings } from "../domain/Settings.js"
import { type DeliveryEvent, step } from "../machines/delivery.js"
import { Broadcaster } from "../services/Broadcaster.js"
import { ChangeLogStore } from "../services/ChangeLogStore.js"
import { type ClaimRow, DeliveryStore, type DeliveryRow } from "../services/DeliveryStore.js"
import { claimTransitions, Dispatcher, failEvent, policyOf } from "../services/Dispatcher.js"
import { makeBatcher } from "../services/internal/Batcher.js"
import { makeId } from "../services/internal/ids.js"
import { contextOf, rowAfter, toTransition } from "../services/internal/transitions.js"
import { NotificationFilter, NotificationStore } from "../services/NotificationStore.js"
import { Router } from "../services/Router.js"
import { RuntimeConfig, type RuntimeOptions } from "../services/RuntimeConfig.js"
import { Sinks } from "../services/Sinks.js"
import { SettingsStore } from "../services/SettingsStore.js"
import { Retention } from "../services/Retention.js"
import { Supervisor } from "../services/Supervisor.js"
import { Writer } from "../services/Writer.js"
import { MemorySink } from "../sinks/memory.js"
import { migrate } from "./Migrations.js"
import { readerLayer, type SyncMode, writerLayer } from "./Sqlite.js"
import { SinkFailure } from "../domain/Sink.js"

export interface HeraldConfig {
  /** The SQLite file (created if missing). */
  readonly database: string
  /** `NORMAL` (default): a power loss may lose the last commits, a process crash never. `FULL`: neither. */
  readonly sync?: SyncMode | undefined
  /** Tuning of this process; `background: false` runs no dispatcher or supervisor. */
  readonly runtime?: Partial<RuntimeOptions> | undefined
}

/** A claimed delivery as a pull sink (the desktop app) receives it. */
export interface ClaimedDelivery {
  readonly delivery: Delivery
  readonly notification: Notification
}

export interface RequeueReport {
  readonly requested: number
  readonly requeued: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly id: string; readonly code: string; readonly reason: string }>
}

export interface Stats {
  readonly byStatus: Readonly<Record<string, number>>
  readonly bySink: Readonly<Record<string, Readonly<Record<string, number>>>>
  readonly dead: number
  readonly oldestDueAgeMs: number | null
}

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

const decodeNotification = decodeInput(NotificationInput, "notification")
const decodeDeliveryFilter = decodeInput(DeliveryFilter, "delivery filter")
const decodeNotificationFilter = decodeInput(NotificationFilter, "notification filter")
const decodeClaim = decodeInput(ClaimInput, "claim")
const decodeAck = decodeInput(AckInput, "ack")
const decodeNack = decodeInput(NackInput, "nack")

// Rows written by this module and CHECK-constrained: built without validating again.
const toDelivery = (r: DeliveryRow) => new Delivery(pickDelivery(r), true)
const pickDelivery = (r: DeliveryRow) => ({
  id: r.id as Delivery["id"],
  notificationId: r.notificationId as Delivery["notificationId"],
  sink: r.sink,
  status: r.status,
  attempts: r.attempts,
  maxAttempts: r.maxAttempts,
  rescues: r.rescues,
  nextAttemptAt: r.nextAttemptAt,
  leaseOwner: r.leaseOwner,
  leaseExpiresAt: r.leaseExpiresAt,
  lastErrorCode: r.lastErrorCode,
  lastError: r.lastError,
  externalId: r.externalId,
  reason: r.reason,
  version: r.version,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt
})
const claimedOf = (r: ClaimRow): ClaimedDelivery => ({
  delivery: toDelivery(r),
  notification: new Notification({
    id: r.notificationId as Notification["id"],
    kind: r.kind,
    priority: r.priority,
    title: r.title,
    body: r.body,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    dedupeKey: null,
    projectId: r.projectId,
    sessionId: r.sessionId,
    createdAt: r.notificationCreatedAt,
    routedAt: null
  }, true)
})

const make = Effect.gen(function* () {
  const writer = yield* Writer
  const settingsStore = yield* SettingsStore
  const notifications = yield* NotificationStore
  const deliveries = yield* DeliveryStore
  const router = yield* Router
  const dispatcher = yield* Dispatcher
  const broadcaster = yield* Broadcaster
  const changes = yield* ChangeLogStore

  /**
   * One enqueue transaction for however many callers are waiting (group commit). Deliveries
   * the dispatcher can take at once are created leased and handed to it after the commit,
   * uninterruptibly, so none is left leased and unused.
   */
  const insertNotifications = (items: ReadonlyArray<NotificationInput>) =>
    Effect.withSpan(Effect.uninterruptible(Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) => writer.transaction(Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const settings = yield* settingsStore.get
      const rows = items.map((i) => ({
        id: makeId("ntf", now),
        kind: i.kind,
        priority: i.priority,
        title: i.title,
        body: i.body,
        payload: JSON.stringify(i.payload),
        dedupeKey: i.dedupeKey ?? null,
        projectId: i.projectId ?? null,
        sessionId: i.sessionId ?? null,
        createdAt: now,
        routedAt: settings.enabled ? now : null
      }))
      const inserted = yield* notifications.insertMany(rows)
      const fresh = rows.filter((r) => inserted.has(r.id))
      let claimed: ReadonlyArray<ClaimRow> = []
      let waiting = false
      if (settings.enabled) {
        const byId = new Map(fresh.map((r) => [r.id, r]))
        const planned = router.plan(fresh, settings, now)
        // Inside an embedder's own transaction this commit is only a savepoint: its rows may
        // still roll back, so nothing is handed to the dispatcher before they are durable.
        const handOff = Option.isSome(outer)
          ? { rows: planned, claimed: [] }
          : dispatcher.leaseAtOnce(planned, (id) => byId.get(id)!, settings, now)
        yield* deliveries.insertMany(handOff.rows)
        claimed = handOff.claimed
        waiting = handOff.rows.some((d) => d.status === "pending")
      }
      const duplicateKeys = rows.flatMap((r) => (inserted.has(r.id) || r.dedupeKey === null ? [] : [r.dedupeKey]))
      const existing = duplicateKeys.length === 0 ? [] : yield* notifications.byDedupeKeys(duplicateKeys)
      const byKey = new Map(existing.map((n) => [n.dedupeKey, n]))
      const exits = rows.map((r, i): Exit.Exit<Enqueued> => {
        if (inserted.has(r.id)) {
          return Exit.succeed({
            created: true,
            // Built from the decoded input just written: not validated again.
            notification: new Notification({ ...r, id: r.id as Notification["id"], payload: items[i]!.payload }, true)
          })
        }
        return Exit.succeed({ created: false, notification: byKey.get(r.dedupeKey)! })
      })
      return { exits, claimed, waiting, settings }
    }))).pipe(
      Effect.tap(({ claimed, settings }) => dispatcher.adopt(claimed, settings)),
      Effect.tap(({ waiting }) => (waiting ? dispatcher.wake : Effect.void)),
      Effect.map(({ exits }) => exits)
    )), "Herald.insertNotifications", { attributes: { count: items.length } })

  const submit = yield* makeBatcher({ maxBatch: 1_000, run: insertNotifications })

  // Untraced: the hot path of every caller; the batch it joins is traced once.
  const enqueue = (input: unknown) => {
    const fast = fastNotificationInput(input)
    return fast !== undefined ? submit(fast) : Effect.flatMap(decodeNotification(input), submit)
  }

  const enqueueMany = Effect.fn("Herald.enqueueMany")(function* (inputs: ReadonlyArray<unknown>) {
    const decoded = yield* Effect.forEach(inputs, (input, i) =>
      Effect.suspend(() => {
        const fast = fastNotificationInput(input)
        return fast !== undefined ? Effect.succeed(fast) : decodeNotification(input)
      }).pipe(
        Effect.mapError((e) => new InvalidInput({ what: e.what, issues: e.issues.map((x) => ({ ...x, path: `${i}${x.path ? "." + x.path : ""}` })) }))
      ))
    return yield* Effect.all(yield* insertNotifications(decoded))
  })

  const getNotification = Effect.fn("Herald.getNotification")(function* (id: string) {
    const notification = yield* notifications.get(id)
    if (notification === undefined) return yield* new NotificationNotFound({ notificationId: id })
    return { notification, deliveries: yield* deliveries.byNotification(id) }
  })

  const listNotifications = Effect.fn("Herald.listNotifications")(function* (filter: unknown = {}) {
    return yield* notifications.list(yield* decodeNotificationFilter(filter))
  })

  const getDelivery = Effect.fn("Herald.getDelivery")(function* (id: string) {
    const delivery = yield* deliveries.get(id)
    if (delivery === undefined) return yield* new DeliveryNotFound({ deliveryId: id })
    return { delivery, attempts: yield* deliveries.attemptsOf(id) }
  })

  const listDeliveries = Effect.fn("Herald.listDeliveries")(function* (filter: unknown = {}) {
    return (yield* deliveries.list(yield* decodeDeliveryFilter(filter))) as Page<Delivery>
  })

  /** Applies one operator event to rows (in the caller's transaction); one result per id. */
  const applyOperator = (ids: ReadonlyArray<string>, eventOf: (now: number, s: Settings) => DeliveryEvent) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const settings = yield* settingsStore.get
      const rows = new Map((yield* deliveries.byIds(ids)).map((r) => [r.id, r]))
      const results = new Map<string, Delivery | DeliveryNotFound | IllegalTransition | StaleWrite>()
      const transitions = []
      for (const id of ids) {
        const row = rows.get(id)
        if (row === undefined) {
          results.set(id, new DeliveryNotFound({ deliveryId: id }))
          continue
        }
        const s = step(row.status, contextOf(row), eventOf(now, settings))
        if (s instanceof IllegalTransition) {
          results.set(id, new IllegalTransition({ ...s, deliveryId: id as Delivery["id"] }))
          continue
        }
        const t = toTransition(row, s, now, null)
        transitions.push(t)
        results.set(id, toDelivery(rowAfter(row, t)))
      }
      const written = yield* deliveries.persist(transitions)
      for (const t of transitions) {
        if (!written.has(t.id)) results.set(t.id, new StaleWrite({ deliveryId: t.id as Delivery["id"], reason: "changed during the operation; try again" }))
      }
      return results
    })

  const single = <E>(id: string, result: Delivery | E) =>
    result instanceof Delivery ? Effect.succeed(result) : Effect.fail(result as E)

  const requeue = Effect.fn("Herald.requeue")(function* (id: string) {
    const results = yield* writer.transaction(
      applyOperator([id], (now, s) => ({ type: "REQUEUE", now, maxAttempts: s.retry.maxAttempts }))
    )
    yield* dispatcher.wake
    return yield* single<DeliveryNotFound | IllegalTransition | StaleWrite>(id, results.get(id)!)
  })

  const report = (ids: ReadonlyArray<string>, results: Map<string, Delivery | DeliveryNotFound | IllegalTransition | StaleWrite>): RequeueReport => {
    const failed = ids.flatMap((id) => {
      const r = results.get(id)!
      return r instanceof Delivery ? [] : [{ id, code: r._tag, reason: r.message }]
    })
    return { requested: ids.length, requeued: ids.filter((id) => results.get(id) instanceof Delivery), failed }
  }

  /** Requeues by ids, or every delivery matching a filter: a report, not all-or-nothing. */
  const requeueMany = Effect.fn("Herald.requeueMany")(function* (
    selector: { readonly ids: ReadonlyArray<string> } | { readonly status?: DeliveryStatus; readonly sink?: string; readonly limit?: number }
  ) {
    const result = yield* writer.transaction(Effect.gen(function* () {
      const ids = "ids" in selector
        ? [...new Set(selector.ids)]
        : yield* deliveries.idsWhere({ status: selector.status ?? "dead", sink: selector.sink }, selector.limit ?? 1_000)
      return report(ids, yield* applyOperator(ids, (now, s) => ({ type: "REQUEUE", now, maxAttempts: s.retry.maxAttempts })))
    }))
    yield* dispatcher.wake
    return result
  })

  const cancel = Effect.fn("Herald.cancel")(function* (id: string, reason = "cancelled by an operator") {
    const results = yield* writer.transaction(applyOperator([id], (now) => ({ type: "CANCEL", now, reason })))
    return yield* single<DeliveryNotFound | IllegalTransition | StaleWrite>(id, results.get(id)!)
  })

  /** A pull sink's consumer leases up to `limit` due deliveries; two claimers never share one. */
  const claim = Effect.fn("Herald.claim")(function* (input: unknown) {
    const req = yield* decodeClaim(input)
    const settings = yield* settingsStore.get
    const sink = settings.sinks[req.sink]
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
      return transitions.filter((t) => written.has(t.id)).map((t) => claimedOf(rowAfter(byId.get(t.id)!, t)))
    }))
  })

  /** Records a pull consumer's outcome, fenced on its lease: a wrong owner or an expired lease is StaleWrite. */
  const settle = (id: string, owner: string, version: number, eventOf: (now: number, s: Settings) => DeliveryEvent) =>
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
      const s = step(row.status, contextOf(row), eventOf(now, settings))
      if (s instanceof IllegalTransition) return yield* new IllegalTransition({ ...s, deliveryId })
      const t = toTransition(row, s, now, owner, { startedAt: row.updatedAt, finishedAt: now })
      const written = yield* deliveries.persist([t])
      if (!written.has(id)) return yield* new StaleWrite({ deliveryId, reason: "changed during the operation; try again" })
      return toDelivery(rowAfter(row, t))
    }))

  const ack = Effect.fn("Herald.ack")(function* (id: string, input: unknown) {
    const req = yield* decodeAck(input)
    return yield* settle(id, req.owner, req.version, (now) => ({ type: "SUCCEED", now, externalId: req.externalId }))
  })

  const nack = Effect.fn("Herald.nack")(function* (id: string, input: unknown) {
    const req = yield* decodeNack(input)
    const failure = new SinkFailure({ retryable: req.retryable, code: req.code, message: req.message, ...(req.retryAfterMs !== undefined ? { retryAfterMs: req.retryAfterMs } : {}) })
    return yield* settle(id, req.owner, req.version, (now, s) => failEvent(Exit.fail(failure), now, policyOf(s)))
  })

  const getSettings = settingsStore.get

  const putSettings = Effect.fn("Herald.putSettings")(function* (input: unknown) {
    const settings = yield* settingsStore.put(input)
    yield* router.routeWaiting(settings)
    yield* dispatcher.wake
    return settings
  })

  const stats = Effect.fn("Herald.stats")(function* () {
    const rows = yield* deliveries.counts
    const now = yield* Clock.currentTimeMillis
    const oldest = yield* deliveries.oldestDueAt(now)
    const byStatus: Record<string, number> = {}
    const bySink: Record<string, Record<string, number>> = {}
    for (const r of rows) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n
      ;(bySink[r.sink] ??= {})[r.status] = r.n
    }
    return { byStatus, bySink, dead: byStatus["dead"] ?? 0, oldestDueAgeMs: oldest === null ? null : now - oldest } satisfies Stats
  })

  /** Changes after `after` (a change_log sequence number), then live ones: no gap, no duplicate. */
  const subscribe = (after = 0): Stream.Stream<ChangeEvent | Resync> => broadcaster.subscribe(after)

  const latestSeq = Effect.map(Effect.orDie(changes.bounds), (b) => b.newest ?? 0)

  return {
    enqueue,
    enqueueMany,
    getNotification,
    listNotifications,
    getDelivery,
    listDeliveries,
    requeue,
    requeueMany,
    cancel,
    claim,
    ack,
    nack,
    getSettings,
    putSettings,
    stats,
    subscribe,
    latestSeq
  } as const
})

type HeraldShape = Effect.Effect.Success<typeof make>

/** The runtime as a service: enqueue, read, requeue, claim, settings, change feed. */
export class Herald extends Context.Tag("herald/Herald")<Herald, HeraldShape>() {
  /** Builds the whole runtime on one SQLite file; closing the layer shuts it down in order. */
  static readonly layer = (config: HeraldConfig) => heraldLayer(config)
}

export type HeraldError = SqlError | StorageUnavailable | DatabaseTooNew | InvalidInput

const heraldLayer = (config: HeraldConfig) => {
  const storage = readerLayer.pipe(
    Layer.provideMerge(Layer.effectDiscard(migrate()).pipe(Layer.provideMerge(writerLayer({ filename: config.database, sync: config.sync }))))
  )
  const base = Layer.mergeAll(Writer.Default, RuntimeConfig.layer(config.runtime), MemorySink.Default).pipe(Layer.provideMerge(storage))
  const stores = Layer.mergeAll(
    SettingsStore.Default,
    NotificationStore.Default,
    DeliveryStore.Default,
    ChangeLogStore.Default,
    Sinks.layer
  ).pipe(Layer.provideMerge(base))
  const routing = Layer.mergeAll(Router.Default, Broadcaster.Default).pipe(Layer.provideMerge(stores))
  const supervised = Supervisor.Default.pipe(Layer.provideMerge(Dispatcher.Default.pipe(Layer.provideMerge(routing))))
  const runtime = Retention.Default.pipe(Layer.provideMerge(supervised))
  return Layer.scoped(Herald, make).pipe(Layer.provideMerge(runtime))
}
