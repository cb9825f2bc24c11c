/**
 * Routing: which sinks a notification goes to, as delivery rows (one per sink, idempotent).
 * A route to an unknown, disabled or unavailable sink gives a `skipped` row that says why.
 * Nothing is routed while settings.enabled is false: notifications wait, unrouted. Deliveries
 * waiting for a sink the settings no longer have are set aside as `skipped`, with the reason.
 */
import { Clock, Effect } from "effect"
import { IllegalTransition } from "../domain/errors.js"
import { priorityRank, type Priority } from "../domain/Priority.js"
import { agentMessageKind } from "../domain/Session.js"
import { pullSinkTypes, retryOf, type Route, type Settings, type SinkType } from "../domain/Settings.js"
import { step } from "../machines/delivery.js"
import { DeliveryStore, type NewDelivery, type Transition } from "../store/DeliveryStore.js"
import { makeId } from "../lib/ids.js"
import { contextOf, toTransition } from "./internal/transitions.js"
import { NotificationStore } from "../store/NotificationStore.js"
import { Sinks } from "./Sinks.js"
import { Writer } from "../store/Writer.js"

export interface Routable {
  readonly id: string
  readonly kind: string
  readonly priority: Priority
}

/** The sink name a skipped agent message is recorded under when no `agent` sink is configured. */
const noAgentSink = "agent"

/**
 * A message to a session's agent goes to every enabled sink of type `agent`, whatever the
 * routes say (they are for people); other notifications never go to an `agent` sink.
 */
const routesOf = (n: Routable, settings: Settings): ReadonlyArray<Route> => {
  const routes = routesBySettings.get(settings) ?? splitRoutes(settings)
  return n.kind === agentMessageKind ? routes.toAgents : routes.toPeople
}

/** Both route lists of a settings document, worked out once per document (settings are immutable values). */
const routesBySettings = new WeakMap<Settings, { readonly toAgents: ReadonlyArray<Route>; readonly toPeople: ReadonlyArray<Route> }>()

const splitRoutes = (settings: Settings) => {
  const agents = Object.entries(settings.sinks).filter(([, c]) => c.type === "agent").map(([name]) => name)
  const routes = {
    toAgents: (agents.length === 0 ? [noAgentSink] : agents).map((sink) => ({ sink, minPriority: "low" as const })),
    toPeople: agents.length === 0 ? settings.routes : settings.routes.filter((r) => !agents.includes(r.sink))
  }
  routesBySettings.set(settings, routes)
  return routes
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
  for (const route of routesOf(n, settings)) {
    if (priorityRank(n.priority) < priorityRank(route.minPriority)) continue
    if (route.kinds !== undefined && !route.kinds.includes(n.kind)) continue
    if (seen.has(route.sink)) continue
    seen.add(route.sink)
    const config = settings.sinks[route.sink]
    const skip = config === undefined && n.kind === agentMessageKind
      ? `no sink of type agent is configured: add {"agent": {"type": "agent"}} to the settings' sinks to message session agents`
      : config === undefined
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
      maxAttempts: retryOf(settings, route.sink).maxAttempts,
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

    /**
     * Deliveries waiting (pending or retry_wait) for a sink that `settings` no longer has
     * become `skipped` with the reason, in transactions of `batch`; a REQUEUE brings them back
     * once the sink is there again. Deliveries of a disabled sink wait: it may come back.
     * Returns how many it skipped.
     */
    const skipRemoved = Effect.fn("Router.skipRemoved")(function* (settings: Settings, batch = 500) {
      let total = 0
      for (const sink of yield* deliveries.waitingSinks) {
        if (settings.sinks[sink] !== undefined) continue
        const reason = `sink '${sink}' was removed from the settings`
        for (;;) {
          const skipped = yield* writer.transaction(Effect.gen(function* () {
            const rows = yield* deliveries.waitingFor(sink, batch)
            const now = yield* Clock.currentTimeMillis
            const transitions: Array<Transition> = []
            for (const row of rows) {
              const s = step(row.status, contextOf(row), { type: "SKIP", now, reason })
              if (!(s instanceof IllegalTransition)) transitions.push(toTransition(row, s, now, null))
            }
            yield* deliveries.persist(transitions)
            return rows.length
          }))
          total += skipped
          if (skipped < batch) break
        }
        yield* Effect.logInfo(`deliveries waiting for sink '${sink}' were skipped: it was removed from the settings`)
      }
      return total
    })

    return { plan, routeWaiting, skipRemoved } as const
  })
}) {}
