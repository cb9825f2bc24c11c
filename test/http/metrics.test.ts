import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { call, eventually, testServer, useDesktopSink } from "./support.js"

const value = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(series + " "))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}
const scrape = Effect.map(call("GET", "/metrics"), (r) => r.body as string)

layer(testServer(), { excludeTestServices: true })("HTTP /metrics", (it) => {
  it.effect("counters and gauges move as deliveries change", () =>
    Effect.gen(function* () {
      yield* useDesktopSink
      const reply = yield* call("GET", "/metrics")
      expect(reply.status).toBe(200)
      expect(reply.headers.get("content-type")).toContain("text/plain")
      const before = reply.body as string
      const created = yield* call("POST", "/v1/notifications", { body: { kind: "m", title: "metric" } })
      const delivery = (yield* call("GET", `/v1/notifications/${created.body.notification.id}`)).body.deliveries[0].id
      const pending = yield* scrape
      expect(value(pending, 'herald_deliveries{sink="desk",status="pending"}')).toBe(value(before, 'herald_deliveries{sink="desk",status="pending"}') + 1)
      expect(value(pending, "herald_queue_depth")).toBeGreaterThanOrEqual(1)
      const claimed1 = yield* call("POST", "/v1/sinks/desk/claim", { body: { owner: "m1", limit: 500 } })
      const version1 = claimed1.body.find((c: { delivery: { id: string } }) => c.delivery.id === delivery).delivery.version
      yield* call("POST", `/v1/deliveries/${delivery}/ack`, { body: { owner: "m1", version: version1 } })
      const sent = 'herald_delivery_attempts_total{sink="desk",outcome="sent"}'
      const after = yield* eventually(scrape, (t) => value(t, sent) === value(before, sent) + 1)
      expect(value(after, 'herald_delivery_latency_seconds_count{sink="desk"}')).toBe(value(before, 'herald_delivery_latency_seconds_count{sink="desk"}') + 1)
      expect(value(after, 'herald_deliveries{sink="desk",status="sent"}')).toBe(1)
      expect(value(after, "herald_notifications_created_total")).toBe(value(before, "herald_notifications_created_total") + 1)
      expect(value(after, 'herald_http_requests_total{method="POST",status="201"}')).toBeGreaterThanOrEqual(1)
      // A permanent failure moves the dead-letter gauge.
      const second = yield* call("POST", "/v1/notifications", { body: { kind: "m", title: "dies" } })
      const id = (yield* call("GET", `/v1/notifications/${second.body.notification.id}`)).body.deliveries[0].id
      const claimed2 = yield* call("POST", "/v1/sinks/desk/claim", { body: { owner: "m2", limit: 500 } })
      const version2 = claimed2.body.find((c: { delivery: { id: string } }) => c.delivery.id === id).delivery.version
      yield* call("POST", `/v1/deliveries/${id}/nack`, { body: { owner: "m2", version: version2, code: "gone", message: "gone", retryable: false } })
      const dead = yield* eventually(scrape, (t) => value(t, 'herald_delivery_attempts_total{sink="desk",outcome="failed"}') === 1)
      expect(value(dead, "herald_dead_letter_deliveries")).toBe(1)
    }))

  it.effect("the disabled-sink gauge counts the deliveries waiting for a disabled sink, and drops to 0 when it is enabled", () =>
    Effect.gen(function* () {
      const gauge = 'herald_deliveries_waiting_on_disabled_sink{sink="desk"}'
      const settings = (enabled: boolean) => ({ sinks: { desk: { type: "desktop", enabled } }, routes: [{ sink: "desk", minPriority: "low" }] })
      yield* call("PUT", "/v1/settings", { body: settings(true) })
      const before = yield* scrape
      const batch = yield* call("POST", "/v1/notifications/batch", { body: { notifications: [{ kind: "m", title: "one" }, { kind: "m", title: "two" }] } })
      expect(batch.status).toBe(201)
      expect(value(yield* scrape, gauge)).toBe(0) // waiting, but for an enabled sink
      yield* call("PUT", "/v1/settings", { body: settings(false) })
      const disabled = yield* scrape
      expect(value(disabled, gauge)).toBe(value(before, 'herald_deliveries{sink="desk",status="pending"}') + 2)
      yield* call("PUT", "/v1/settings", { body: settings(true) })
      expect(value(yield* scrape, gauge)).toBe(0)
    }))

  it.effect("the circuit gauge is one-hot per sink of the settings, closed for a sink without a breaker, and gone with the sink", () =>
    Effect.gen(function* () {
      yield* call("PUT", "/v1/settings", { body: { sinks: { desk: { type: "desktop" }, audit: { type: "log", enabled: false } }, routes: [] } })
      const both = yield* scrape
      for (const sink of ["desk", "audit"]) {
        expect(value(both, `herald_sink_circuit_state{sink="${sink}",state="closed"}`)).toBe(1)
        expect(both).toContain(`herald_sink_circuit_state{sink="${sink}",state="open"} 0`)
        expect(both).toContain(`herald_sink_circuit_state{sink="${sink}",state="half_open"} 0`)
      }
      yield* call("PUT", "/v1/settings", { body: { sinks: { desk: { type: "desktop" } }, routes: [] } })
      const one = yield* scrape
      expect(value(one, 'herald_sink_circuit_state{sink="desk",state="closed"}')).toBe(1)
      expect(one).not.toContain('sink="audit"')
    }))
})
