/**
 * The Herald service: what embedders and the HTTP API use. It speaks the domain and delegates
 * the work to the commands (this folder), the runtime and the stores; the layer that builds
 * it from one config is src/layers/Herald.ts.
 */
import { Clock, Context, Effect, type Stream } from "effect"
import type { ChangeEvent, Resync } from "../domain/ChangeEvent.js"
import { decodeInput } from "../domain/decode.js"
import { circuitPolicyOf } from "../domain/Settings.js"
import { type Delivery, DeliveryFilter, explainWait, type Page } from "../domain/Delivery.js"
import { DeliveryNotFound, type InvalidInput, NotificationNotFound } from "../domain/errors.js"
import { Broadcaster } from "../runtime/Broadcaster.js"
import { Router } from "../runtime/Router.js"
import { ChangeLogStore } from "../store/ChangeLogStore.js"
import { Circuits } from "../runtime/Circuits.js"
import { DeliveryStore } from "../store/DeliveryStore.js"
import { Dispatcher } from "../runtime/Dispatcher.js"
import { DurableConsumers, type DurableOptions } from "./DurableConsumers.js"
import { Enqueuer } from "./Enqueuer.js"
import { NotificationFilter, NotificationStore } from "../store/NotificationStore.js"
import { OperatorCommands } from "./OperatorCommands.js"
import { PullSinks } from "./PullSinks.js"
import { SinkStatuses } from "./SinkStatuses.js"
import { SinkTester } from "./SinkTester.js"
import { SettingsStore } from "../store/SettingsStore.js"
import { Writer } from "../store/Writer.js"

export type { ClaimedDelivery } from "../store/domainRows.js"
export type { RequeueReport } from "./OperatorCommands.js"
export type { DurableOptions } from "./DurableConsumers.js"

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
export class Herald extends Context.Tag("herald/Herald")<Herald, HeraldShape>() {}

/** Builds the Herald service from the runtime's services (composed by src/layers/Herald.ts). */
export const makeHerald = make

