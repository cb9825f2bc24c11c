/**
 * The Herald service (what embedders and the HTTP API use) and the layer that builds the
 * whole runtime from one config: SQLite, migrations, stores, router, dispatcher, supervisor.
 * It composes the runtime's services; the work itself is theirs. Layer order is shutdown
 * order: the runtime drains before the writer flushes and closes.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Context, Effect, Layer, type Stream } from "effect"
import type { ChangeEvent, Resync } from "../domain/ChangeEvent.js"
import { decodeInput } from "../domain/decode.js"
import { circuitPolicyOf } from "../domain/Settings.js"
import { type Delivery, DeliveryFilter, explainWait, type Page } from "../domain/Delivery.js"
import {
  type DatabaseTooNew,
  DeliveryNotFound,
  type InvalidInput,
  type MigrationChanged,
  type MigrationMissing,
  NotificationNotFound,
  type StorageUnavailable,
  type StoredSettingsInvalid
} from "../domain/errors.js"
import { Broadcaster } from "../services/Broadcaster.js"
import { ChangeLogStore } from "../services/ChangeLogStore.js"
import { CircuitStore } from "../services/CircuitStore.js"
import { Circuits } from "../services/Circuits.js"
import { DeliveryStore } from "../services/DeliveryStore.js"
import { Dispatcher } from "../services/Dispatcher.js"
import { DurableConsumers, type DurableOptions } from "../services/DurableConsumers.js"
import { Enqueuer } from "../services/Enqueuer.js"
import { NotificationFilter, NotificationStore } from "../services/NotificationStore.js"
import { OperatorCommands } from "../services/OperatorCommands.js"
import { PullSinks } from "../services/PullSinks.js"
import { HistoryRetention } from "../services/HistoryRetention.js"
import { HistoryStore } from "../services/HistoryStore.js"
import { Retention } from "../services/Retention.js"
import { SinkStatuses } from "../services/SinkStatuses.js"
import { SinkTester } from "../services/SinkTester.js"
import { type RetrySchedule, RetrySchedules } from "../services/RetrySchedules.js"
import { Router } from "../services/Router.js"
import { RuntimeConfig, type RuntimeOptions } from "../services/RuntimeConfig.js"
import { SettingsStore } from "../services/SettingsStore.js"
import { Sinks } from "../services/Sinks.js"
import { Supervisor } from "../services/Supervisor.js"
import { Writer } from "../services/Writer.js"
import { MemorySink } from "../sinks/memory.js"
import { migrate } from "./Migrations.js"
import { readerLayer, type SyncMode, writerLayer } from "./Sqlite.js"

export type { ClaimedDelivery } from "../services/internal/domainRows.js"
export type { RequeueReport } from "../services/OperatorCommands.js"
export type { DurableOptions } from "../services/DurableConsumers.js"

export interface HeraldConfig {
  /** The SQLite file (created if missing). */
  readonly database: string
  /** `NORMAL` (default): a power loss may lose the last commits, a process crash never. `FULL`: neither. */
  readonly sync?: SyncMode | undefined
  /** Tuning of this process; `background: false` runs no dispatcher or supervisor. */
  readonly runtime?: Partial<RuntimeOptions> | undefined
  /**
   * A retry Schedule per sink name, in place of the one its settings' `retry` fields compile
   * to. It is stepped once per failed attempt with that attempt's `SinkFailure`; its delay is
   * the wait before the next attempt (a longer `Retry-After` still wins), and once it ends the
   * delivery goes `dead`. The settings' `maxAttempts` and `maxRescues` still apply. Its
   * randomness (`Schedule.jittered`) is seeded per delivery, so one delivery's plan is stable.
   */
  readonly retrySchedules?: Readonly<Record<string, RetrySchedule>> | undefined
}

export interface Stats {
  readonly byStatus: Readonly<Record<string, number>>
  readonly bySink: Readonly<Record<string, Readonly<Record<string, number>>>>
  readonly dead: number
  readonly oldestDueAgeMs: number | null
}

const decodeDeliveryFilter = decodeInput(DeliveryFilter, "delivery filter")
const decodeNotificationFilter = decodeInput(NotificationFilter, "notification filter")

const make = Effect.gen(function* () {
  const settingsStore = yield* SettingsStore
  const notifications = yield* NotificationStore
  const deliveries = yield* DeliveryStore
  const router = yield* Router
  const dispatcher = yield* Dispatcher
  const broadcaster = yield* Broadcaster
  const changes = yield* ChangeLogStore
  const { enqueue, enqueueMany, enqueueBatch } = yield* Enqueuer
  const { requeue, requeueMany, cancel } = yield* OperatorCommands
  const { claim, ack, nack } = yield* PullSinks
  const sinkTester = yield* SinkTester
  const sinkStatuses = yield* SinkStatuses
  const circuits = yield* Circuits
  const consumers = yield* DurableConsumers
  const writer = yield* Writer
  /** Called inside a transaction of another @effect/sql client, Herald still uses its own connections. */
  const isolated = <Args extends ReadonlyArray<unknown>, A, E, R>(f: (...args: Args) => Effect.Effect<A, E, R>) =>
    (...args: Args) => writer.isolate(f(...args))

  /** Deliveries as the current settings and circuits explain them (one waiting for a disabled sink, or an open circuit, says so). */
  const explained = Effect.gen(function* () {
    const settings = yield* settingsStore.get
    const held = new Set((yield* Effect.orDie(circuits.all)).filter((c) => c.status !== "closed" && circuitPolicyOf(settings.sinks[c.sink]) !== null).map((c) => c.sink))
    return (d: Delivery) => explainWait(d, (sink) => settings.sinks[sink]?.enabled, (sink) => held.has(sink))
  })

  const getNotification = Effect.fn("Herald.getNotification")(function* (id: string) {
    const notification = yield* notifications.get(id)
    if (notification === undefined) return yield* new NotificationNotFound({ notificationId: id })
    return { notification, deliveries: (yield* deliveries.byNotification(id)).map(yield* explained) }
  })

  const listNotifications = Effect.fn("Herald.listNotifications")(function* (filter: unknown = {}) {
    return yield* notifications.list(yield* decodeNotificationFilter(filter))
  })

  const getDelivery = Effect.fn("Herald.getDelivery")(function* (id: string) {
    const delivery = yield* deliveries.get(id)
    if (delivery === undefined) return yield* new DeliveryNotFound({ deliveryId: id })
    return { delivery: (yield* explained)(delivery), attempts: yield* deliveries.attemptsOf(id) }
  })

  const listDeliveries = Effect.fn("Herald.listDeliveries")(function* (filter: unknown = {}) {
    const page = (yield* deliveries.list(yield* decodeDeliveryFilter(filter))) as Page<Delivery>
    return { ...page, items: page.items.map(yield* explained) }
  })

  const getSettings = settingsStore.get

  const putSettings = Effect.fn("Herald.putSettings")(function* (input: unknown) {
    const settings = yield* settingsStore.put(input)
    yield* router.routeWaiting(settings)
    yield* router.skipRemoved(settings)
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

  /**
   * Every change after the offset the durable consumer `name` last committed, then live ones
   * (no gap, no duplicate); with no commit yet, after `options.after` (default: only new
   * changes). Reading commits nothing: call `commitOffset` once changes are handled.
   */
  const subscribeDurable = (name: string, options?: DurableOptions): Stream.Stream<ChangeEvent | Resync, InvalidInput> =>
    consumers.subscribe(name, options)

  return {
    enqueue: isolated(enqueue),
    enqueueMany: isolated(enqueueMany),
    /** One result per item, in order: the valid items are written in one transaction, each bad one is rejected on its own. */
    enqueueBatch: isolated(enqueueBatch),
    getNotification: isolated(getNotification),
    listNotifications: isolated(listNotifications),
    getDelivery: isolated(getDelivery),
    listDeliveries: isolated(listDeliveries),
    requeue: isolated(requeue),
    requeueMany: isolated(requeueMany),
    cancel: isolated(cancel),
    claim: isolated(claim),
    ack: isolated(ack),
    /** Sends a made-up notification through the named sink now and says what happened; stores nothing. */
    testSink: isolated(sinkTester.test),
    nack: isolated(nack),
    /** Every sink of the settings with its circuit, queue, leases and last error. */
    listSinks: isolated(sinkStatuses.list),
    /** One sink's status; SinkNotFound for a name the settings do not have. */
    getSink: isolated(sinkStatuses.get),
    /** Closes the sink's circuit by hand (POST /v1/sinks/:name/reset); its held deliveries go out at once. */
    resetCircuit: isolated(sinkStatuses.reset),
    getSettings: writer.isolate(getSettings),
    putSettings: isolated(putSettings),
    stats: isolated(stats),
    subscribe,
    subscribeDurable,
    /** Records that the durable consumer `name` has handled every change up to `seq`; a commit only moves forward. */
    commitOffset: isolated(consumers.commit),
    /** A durable consumer's committed offset and its lag behind the newest change. */
    getConsumer: isolated(consumers.get),
    /** Every durable consumer (Herald's own readers are not listed). */
    listConsumers: isolated(consumers.list),
    /** Forgets a durable consumer: a subscription by that name starts again as a new one. */
    deleteConsumer: isolated(consumers.remove),
    latestSeq: writer.isolate(latestSeq)
  } as const
})

type HeraldShape = Effect.Effect.Success<typeof make>

/** The runtime as a service: enqueue, read, requeue, claim, settings, change feed. */
export class Herald extends Context.Tag("herald/Herald")<Herald, HeraldShape>() {
  /** Builds the whole runtime on one SQLite file; closing the layer shuts it down in order. */
  static readonly layer = (config: HeraldConfig) => heraldLayer(config)
}

export type HeraldError = SqlError | StorageUnavailable | DatabaseTooNew | MigrationChanged | MigrationMissing | InvalidInput | StoredSettingsInvalid

const heraldLayer = (config: HeraldConfig) => {
  const storage = readerLayer.pipe(
    Layer.provideMerge(Layer.effectDiscard(migrate()).pipe(Layer.provideMerge(writerLayer({ filename: config.database, sync: config.sync }))))
  )
  const base = Layer.mergeAll(Writer.Default, RuntimeConfig.layer(config.runtime), RetrySchedules.layer(config.retrySchedules), MemorySink.Default).pipe(Layer.provideMerge(storage))
  const stores = Layer.mergeAll(
    SettingsStore.Default,
    NotificationStore.Default,
    DeliveryStore.Default,
    ChangeLogStore.Default,
    HistoryStore.Default,
    CircuitStore.Default,
    Sinks.layer
  ).pipe(Layer.provideMerge(base))
  const routing = Layer.mergeAll(Router.Default, Broadcaster.Default, Circuits.Default).pipe(Layer.provideMerge(stores))
  const supervised = Supervisor.Default.pipe(Layer.provideMerge(Dispatcher.Default.pipe(Layer.provideMerge(routing))))
  const commands = Layer.mergeAll(Enqueuer.Default, OperatorCommands.Default, PullSinks.Default, SinkTester.Default, SinkStatuses.Default, DurableConsumers.Default).pipe(Layer.provideMerge(supervised))
  const runtime = Layer.mergeAll(Retention.Default, HistoryRetention.Default).pipe(Layer.provideMerge(commands))
  return Layer.effect(Herald, make).pipe(Layer.provideMerge(runtime))
}
