/**
 * The sinks as an operator sees them (GET /v1/sinks): each sink of the settings with its
 * circuit (CircuitStore), its queue and leases (the trigger-kept delivery counts), its last
 * error; and the operator's reset of a circuit.
 */
import { Effect } from "effect"
import { SinkNotFound } from "../domain/errors.js"
import { circuitPolicyOf, type SinkConfig, sinkNamed } from "../domain/Settings.js"
import { SinkStatus } from "../domain/SinkStatus.js"
import type { CircuitRow } from "../store/CircuitStore.js"
import { Circuits } from "../runtime/Circuits.js"
import { DeliveryStore } from "../store/DeliveryStore.js"
import { Dispatcher } from "../runtime/Dispatcher.js"
import { SettingsStore } from "../store/SettingsStore.js"

export class SinkStatuses extends Effect.Service<SinkStatuses>()("herald/SinkStatuses", {
  effect: Effect.gen(function* () {
    const settingsStore = yield* SettingsStore
    const circuits = yield* Circuits
    const deliveries = yield* DeliveryStore
    const dispatcher = yield* Dispatcher

    const statusOf = (name: string, config: SinkConfig, row: CircuitRow | undefined, counts: ReadonlyMap<string, number>) => {
      const c = row?.context
      const breaker = circuitPolicyOf(config) !== null
      return new SinkStatus({
        name,
        type: config.type,
        enabled: config.enabled,
        circuit: breaker ? row?.status ?? "closed" : "closed",
        consecutiveFailures: breaker ? c?.consecutiveFailures ?? 0 : 0,
        probeAt: breaker && row?.status === "open" ? c?.probeAt ?? null : null,
        circuitReason: breaker ? c?.reason ?? null : null,
        inFlight: counts.get(`${name}\u0000leased`) ?? 0,
        queued: (counts.get(`${name}\u0000pending`) ?? 0) + (counts.get(`${name}\u0000retry_wait`) ?? 0),
        lastError: c?.lastError != null && row?.lastErrorAt != null
          ? { code: c.lastErrorCode ?? "error", message: c.lastError, at: row.lastErrorAt }
          : null
      })
    }

    const read = Effect.gen(function* () {
      const settings = yield* settingsStore.get
      const rows = new Map((yield* circuits.all).map((r) => [r.sink, r]))
      const counts = new Map((yield* deliveries.counts).map((r) => [`${r.sink}\u0000${r.status}`, r.n]))
      return { settings, rows, counts }
    })

    /** Every sink of the settings, in name order. */
    const list = Effect.fn("SinkStatuses.list")(function* () {
      const { settings, rows, counts } = yield* read
      return Object.keys(settings.sinks).sort().map((name) => statusOf(name, settings.sinks[name]!, rows.get(name), counts))
    })

    const get = Effect.fn("SinkStatuses.get")(function* (name: string) {
      const { settings, rows, counts } = yield* read
      const config = sinkNamed(settings, name)
      if (config === undefined) return yield* new SinkNotFound({ sink: name })
      return statusOf(name, config, rows.get(name), counts)
    })

    /** Closes the sink's circuit by hand: its held deliveries go out at once. A closed circuit stays as it is. */
    const reset = Effect.fn("SinkStatuses.reset")(function* (name: string) {
      const settings = yield* settingsStore.get
      if (sinkNamed(settings, name) === undefined) return yield* new SinkNotFound({ sink: name })
      yield* circuits.reset(name)
      yield* dispatcher.wake
      return yield* get(name)
    })

    return { list, get, reset } as const
  })
}) {}
