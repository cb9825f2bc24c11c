/**
 * GET /v1/sinks, GET /v1/sinks/:name, POST /v1/sinks/:name/reset and the circuit gauge of
 * /metrics, against a real daemon; the breaker is opened by a real receiver that answers 500.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { receiver, whenIo } from "../support/receiver.js"
import { call, openSse, testServer } from "./support.js"

const putSettings = (body: unknown) => call("PUT", "/v1/settings", { body })
const sinkOf = (name: string) => Effect.map(call("GET", "/v1/sinks"), (r) => (r.body.sinks as Array<{ name: string; circuit: string }>).find((s) => s.name === name))
const scrape = Effect.map(call("GET", "/metrics"), (r) => r.body as string)
const gauge = (text: string, sink: string, state: string) => {
  const series = `herald_sink_circuit_state{sink="${sink}",state="${state}"}`
  const line = text.split("\n").find((l) => l.startsWith(series + " "))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

layer(testServer(), { excludeTestServices: true })("HTTP /v1/sinks", (it) => {
  it.effect("lists every sink of the settings in name order with its type, switch, circuit and queue; leases count as in flight", () =>
    Effect.gen(function* () {
      const put = yield* putSettings({
        sinks: {
          desk: { type: "desktop" },
          hook: { type: "webhook", url: "http://127.0.0.1:9/in", allowPrivateNetwork: true, enabled: false, circuit: { failureThreshold: 3, cooldownMs: 1_000 } },
          audit: { type: "log", enabled: false }
        },
        routes: [{ sink: "desk", minPriority: "low" }]
      })
      expect(put.status, JSON.stringify(put.body)).toBe(200)
      yield* Effect.forEach([1, 2, 3], (i) => call("POST", "/v1/notifications", { body: { kind: "s", title: `queued ${i}` } }))
      const claimed = yield* call("POST", "/v1/sinks/desk/claim", { body: { owner: "t", limit: 1 } })
      expect(claimed.body).toHaveLength(1)

      const list = yield* call("GET", "/v1/sinks")
      expect(list.status).toBe(200)
      const closed = { circuit: "closed", consecutiveFailures: 0, probeAt: null, circuitReason: null, lastError: null }
      expect(list.body).toEqual({
        sinks: [
          { name: "audit", type: "log", enabled: false, inFlight: 0, queued: 0, ...closed },
          { name: "desk", type: "desktop", enabled: true, inFlight: 1, queued: 2, ...closed },
          { name: "hook", type: "webhook", enabled: false, inFlight: 0, queued: 0, ...closed }
        ]
      })
      const one = yield* call("GET", "/v1/sinks/desk")
      expect(one.status).toBe(200)
      expect(one.body).toEqual(list.body.sinks[1])
    }))

  it.effect("an unknown sink is a 404 naming it, on GET and on reset; a name of Object.prototype is unknown too", () =>
    Effect.gen(function* () {
      yield* putSettings({ sinks: { desk: { type: "desktop" } }, routes: [] })
      // Names of Object.prototype are not sinks either.
      for (const name of ["nope", "constructor", "__proto__", "toString"]) {
        const get = yield* call("GET", `/v1/sinks/${name}`)
        expect(get.status, name).toBe(404)
        expect(get.headers.get("content-type")).toContain("application/problem+json")
        expect(get.body).toMatchObject({ code: "SinkNotFound", sink: name, status: 404 })
        const reset = yield* call("POST", `/v1/sinks/${name}/reset`)
        expect(reset.status, name).toBe(404)
        expect(reset.body).toMatchObject({ code: "SinkNotFound", sink: name })
      }
      const claim = yield* call("POST", "/v1/sinks/constructor/claim", { body: { owner: "t" } })
      expect(claim.status).toBe(400)
      expect(claim.body.detail).toContain("no sink named 'constructor'")
    }))

  it.effect("a reset of a closed circuit answers it closed, as it was", () =>
    Effect.gen(function* () {
      yield* putSettings({
        sinks: { hook: { type: "webhook", url: "http://127.0.0.1:9/in", allowPrivateNetwork: true, enabled: false, circuit: { failureThreshold: 2, cooldownMs: 5_000 } } },
        routes: []
      })
      const reset = yield* call("POST", "/v1/sinks/hook/reset")
      expect(reset.status).toBe(200)
      expect(reset.body).toMatchObject({ name: "hook", circuit: "closed", consecutiveFailures: 0, probeAt: null })
    }))

  it.scoped("a failing webhook opens its circuit (shown by GET and by the gauge); a reset closes it by hand", () =>
    Effect.gen(function* () {
      const down = yield* receiver(() => ({ status: 500, body: "broken" }))
      const put = yield* putSettings({
        sinks: {
          // Its retry waits a minute: after the reset nothing goes out again during the test.
          flaky: { type: "webhook", url: `${down.url}/in`, allowPrivateNetwork: true, circuit: { failureThreshold: 1, cooldownMs: 60_000 }, retry: { baseMs: 60_000 } }
        },
        routes: [{ sink: "flaky", minPriority: "low" }]
      })
      expect(put.status).toBe(200)
      const before = yield* scrape
      expect(gauge(before, "flaky", "closed")).toBe(1)
      expect(gauge(before, "flaky", "open")).toBe(0)
      expect(gauge(before, "flaky", "half_open")).toBe(0)

      const feed = yield* openSse("/v1/events?entity=circuit")
      expect(feed.status).toBe(200)
      yield* Effect.addFinalizer(() => feed.close)
      const sentAt = Date.now()
      yield* call("POST", "/v1/notifications", { body: { kind: "s", title: "to a broken hook" } })
      const open = yield* whenIo(sinkOf("flaky"), (s) => s?.circuit === "open", "the circuit opens")
      expect(down.received).toHaveLength(1)
      expect(open).toMatchObject({ type: "webhook", enabled: true, consecutiveFailures: 1, inFlight: 0, queued: 1, lastError: { code: "http_500" } })
      const probeAt = (open as unknown as { probeAt: number }).probeAt
      expect(probeAt).toBeGreaterThanOrEqual(sentAt + 60_000)
      expect(probeAt).toBeLessThanOrEqual(Date.now() + 60_000)
      const opened = yield* scrape
      expect(gauge(opened, "flaky", "open")).toBe(1)
      expect(gauge(opened, "flaky", "closed")).toBe(0)
      expect(gauge(opened, "flaky", "half_open")).toBe(0)

      const reset = yield* call("POST", "/v1/sinks/flaky/reset")
      expect(reset.status).toBe(200)
      expect(reset.body).toMatchObject({ name: "flaky", circuit: "closed", consecutiveFailures: 0, probeAt: null, queued: 1 })
      expect((yield* call("GET", "/v1/sinks/flaky")).body.circuit).toBe("closed")
      const closed = yield* scrape
      expect(gauge(closed, "flaky", "closed")).toBe(1)
      expect(gauge(closed, "flaky", "open")).toBe(0)
      expect(down.received).toHaveLength(1)
      // The change feed, filtered to circuits, carried both changes of state and nothing else.
      const changes = yield* whenIo(Effect.sync(() => feed.changes()), (c) => c.length >= 2, "both circuit changes on the feed")
      expect(changes.map((c) => [c.entity, c.entityId, c.event])).toEqual([["circuit", "flaky", "open"], ["circuit", "flaky", "closed"]])
    }))

  it.effect("a circuit whose maxCooldownMs is below cooldownMs, or whose threshold is 0, is a 400 naming the field", () =>
    Effect.gen(function* () {
      const withCircuit = (circuit: unknown) =>
        putSettings({ sinks: { hook: { type: "webhook", url: "https://example.com/in", circuit } }, routes: [] })
      const below = yield* withCircuit({ failureThreshold: 3, cooldownMs: 10_000, maxCooldownMs: 5_000 })
      expect(below.status).toBe(400)
      expect(below.body).toMatchObject({ code: "InvalidInput", path: "sinks.hook.circuit.maxCooldownMs" })
      expect(below.body.detail).toContain("at least cooldownMs")
      const zero = yield* withCircuit({ failureThreshold: 0, cooldownMs: 10_000 })
      expect(zero.status).toBe(400)
      expect(zero.body).toMatchObject({ code: "InvalidInput", path: "sinks.hook.circuit.failureThreshold" })
      // Neither was stored.
      expect((yield* call("GET", "/v1/settings")).body.sinks.hook).toBeUndefined()
    }))
})
