/**
 * Prometheus metrics (prom-client, one registry per server so several servers in one process
 * never mix counts). Gauges are read from `Herald.stats` and `Herald.listSinks` (the circuits)
 * at scrape time. Counters and the latency histogram catch up at scrape time too, from
 * change_log after the last row they counted, so each transition counts exactly once.
 * (Following the live feed instead made the supervisor read and publish every change as it
 * happened: measured, it cost a third of the HTTP enqueue rate.)
 */
import { Effect } from "effect"
import { Counter, Gauge, Histogram, Registry } from "prom-client"
import { CircuitState } from "../domain/SinkStatus.js"
import { Herald } from "../services/Herald.js"
import { ChangeLogStore } from "../store/ChangeLogStore.js"

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/** Creation time of a time-ordered id (`dlv_` + ULID: 10 base32 characters of milliseconds). */
const createdAtOf = (id: string): number | undefined => {
  const time = id.slice(id.indexOf("_") + 1, id.indexOf("_") + 11)
  let ms = 0
  for (const c of time) {
    const v = alphabet.indexOf(c)
    if (v < 0) return undefined
    ms = ms * 32 + v
  }
  return ms
}

/** Change rows read per query while catching up. */
const page = 10_000

export class Metrics extends Effect.Service<Metrics>()("herald/http/Metrics", {
  scoped: Effect.gen(function* () {
    const herald = yield* Herald
    const changes = yield* ChangeLogStore
    const registry = new Registry()
    const registers = [registry]
    const deliveries = new Gauge({ name: "herald_deliveries", help: "Deliveries by sink and status.", labelNames: ["sink", "status"], registers })
    const deadLetter = new Gauge({ name: "herald_dead_letter_deliveries", help: "Deliveries in the dead letter state.", registers })
    const queueDepth = new Gauge({ name: "herald_queue_depth", help: "Deliveries waiting to be sent (pending or retry_wait).", registers })
    const waitingDisabled = new Gauge({
      name: "herald_deliveries_waiting_on_disabled_sink",
      help: "Deliveries waiting (pending or retry_wait) for a sink that is disabled in the settings.",
      labelNames: ["sink"],
      registers
    })
    const circuitState = new Gauge({
      name: "herald_sink_circuit_state",
      help: "Each sink's circuit breaker, one-hot: 1 for its state (closed, open or half_open), 0 for the others. A sink without a breaker is closed.",
      labelNames: ["sink", "state"],
      registers
    })
    const oldestDue = new Gauge({ name: "herald_oldest_due_age_seconds", help: "Age of the oldest due delivery (0 when none is due).", registers })
    const attempts = new Counter({ name: "herald_delivery_attempts_total", help: "Delivery attempts by sink and outcome.", labelNames: ["sink", "outcome"], registers })
    const latency = new Histogram({
      name: "herald_delivery_latency_seconds",
      help: "Time from a delivery's creation to its successful send.",
      labelNames: ["sink"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers
    })
    const notifications = new Counter({ name: "herald_notifications_created_total", help: "Notifications created (dedupe hits excluded).", registers })
    const httpRequests = new Counter({ name: "herald_http_requests_total", help: "HTTP requests by method and status.", labelNames: ["method", "status"], registers })
    const sseClients = new Gauge({ name: "herald_sse_clients", help: "Connected change-feed (SSE) clients.", registers })
    const sseDisconnects = new Counter({ name: "herald_sse_disconnects_total", help: "SSE clients disconnected by the server, by reason.", labelNames: ["reason"], registers })

    // Counted from here on: what happened before this server started is not this process's count.
    let counted = yield* herald.latestSeq

    // One catch-up at a time: two concurrent scrapes would count the same rows twice.
    const oneAtATime = yield* Effect.makeSemaphore(1)

    /** Counts the changes after `counted` (settled attempts, created notifications), up to the newest. */
    const catchUp = oneAtATime.withPermits(1)(Effect.gen(function* () {
      const newest = yield* herald.latestSeq
      while (counted < newest) {
        // Bounded by `newest` as read above: a row committed since is counted by the next scrape, once.
        const upTo = Math.min(newest, counted + page)
        const rows = yield* Effect.orDie(changes.countablesAfter(counted, upTo))
        for (const r of rows) {
          if (r.entity === "notification") {
            notifications.inc()
            continue
          }
          if (r.sink === null) continue
          if (r.event === "sent") {
            attempts.inc({ sink: r.sink, outcome: "sent" })
            const created = createdAtOf(r.entityId)
            if (created !== undefined) latency.observe({ sink: r.sink }, Math.max(0, r.createdAt - created) / 1_000)
          } else {
            attempts.inc({ sink: r.sink, outcome: r.errorCode === "lease_expired" ? "lease_expired" : "failed" })
          }
        }
        counted = upTo
      }
    }))

    /** The Prometheus text exposition, with gauges refreshed from the database. */
    const render = Effect.gen(function* () {
      yield* catchUp
      const stats = yield* herald.stats()
      deliveries.reset()
      for (const [sink, byStatus] of Object.entries(stats.bySink)) {
        for (const [status, n] of Object.entries(byStatus)) deliveries.set({ sink, status }, n)
      }
      const settings = yield* herald.getSettings
      waitingDisabled.reset()
      for (const [sink, config] of Object.entries(settings.sinks)) {
        if (!config.enabled) waitingDisabled.set({ sink }, (stats.bySink[sink]?.["pending"] ?? 0) + (stats.bySink[sink]?.["retry_wait"] ?? 0))
      }
      // Reset first: a sink removed from the settings leaves no stale series behind.
      circuitState.reset()
      for (const sink of yield* herald.listSinks()) {
        for (const state of CircuitState.literals) circuitState.set({ sink: sink.name, state }, sink.circuit === state ? 1 : 0)
      }
      deadLetter.set(stats.dead)
      queueDepth.set((stats.byStatus["pending"] ?? 0) + (stats.byStatus["retry_wait"] ?? 0))
      oldestDue.set((stats.oldestDueAgeMs ?? 0) / 1_000)
      return yield* Effect.promise(() => registry.metrics())
    })

    return {
      render,
      contentType: registry.contentType,
      countRequest: (method: string, status: number) => httpRequests.inc({ method, status: String(status) }),
      sseOpened: Effect.sync(() => sseClients.inc()),
      sseClosed: Effect.sync(() => sseClients.dec()),
      sseDropped: (reason: string) => Effect.sync(() => sseDisconnects.inc({ reason }))
    } as const
  })
}) {}
