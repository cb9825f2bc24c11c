/**
 * Routing: which sinks a notification goes to, as delivery rows (one per sink, idempotent).
 * A route to an unknown, disabled or unavailable sink gives a `skipped` row that says why.
 * Nothing is routed while settings.enabled is false: notifications wait, unrouted.
 */
import { Clock, Effect } from "effect"
import { priorityRank, type Priority } from "../domain/Priority.js"
import { pullSinkTypes, type Settings, type SinkType } from "../domain/Settings.js"
import { DeliveryStore, type NewDelivery } from "./DeliveryStore.js"
import { makeId } from "./internal/ids.js"
import { NotificationStore } from "./NotificationStore.js"
import { Sinks } from "./Sinks.js"
import { Writer } from "./Writer.js"

export interface Routable {
  readonly id: string
  readonly kind: string
  readonly priority: Priority
}

/** The delivery rows for one notification under these settings. Pure. */
export const planDeliveries = (
  n: Routable,
  settings: Settings,
  available: ReadonlySet<SinkType>,
  now: number
): Array<NewDelivery> => {
  const seen = new Set<string>()
  const out: Array<NewDelivery> = []
  for (const route of settings.routes) {
    if (priorityRank(n.priority) < priorityRank(route.minPriority)) continue
    if (route.kinds !== undefined && !route.kinds.includes(n.kind)) continue
    if (seen.has(route.sink)) continue
    seen.add(route.sink)
    const config = settings.sinks[route.sink]
    const skip = config === undefined
      ? `a route names sink '${route.sink}', which is not configured`
      : !config.enabled
      ? `sink '${route.sink}' is disabled`
      : !available.has(config.type) && !pullSinkTypes.has(config.type)
      ? `sink type '${config.type}' is not available in this build`
      : null
    out.push({
      id: makeId("dlv", now),
      notificationId: n.id,
      sink: route.sink,
      status: skip === null ? "pending" : "skipped",
      maxAttempts: settings.retry.maxAttempts,
      nextAttemptAt: skip === null ? now : null,
      reason: skip,
      createdAt: now
    })
  }
  return out
}

export class Router extends Effect.Service<Router>()("herald/Router", {
  effect: Effect.gen(function* () {
    const sinks = yield* Sinks
    const deliveries = yield* DeliveryStore
    const notifications = yield* NotificationStore
    const writer = yield* Writer
    const available = new Set(sinks.keys())

    /** Delivery rows for notifications being inserted now (inside the caller's transaction). */
    const plan = (items: ReadonlyArray<Routable>, settings: Settings, now: number) =>
      items.flatMap((n) => planDeliveries(n, settings, available, now))

    /** Routes notifications that waited while routing was off. Returns how many it routed. */
    const routeWaiting = Effect.fn("Router.routeWaiting")(function* (settings: Settings, batch = 1_000) {
      if (!settings.enabled) return 0
      let total = 0
      for (;;) {
        const routed = yield* writer.transaction(Effect.gen(function* () {
          const waiting = yield* notifications.unrouted(batch)
          if (waiting.length === 0) return 0
          const now = yield* Clock.currentTimeMillis
          yield* deliveries.insertMany(plan(waiting, settings, now))
          yield* notifications.markRouted(waiting.map((n) => n.id), now)
          return waiting.length
        }))
        total += routed
        if (routed < batch) return total
      }
    })

    return { plan, routeWaiting } as const
  })
}) {}
