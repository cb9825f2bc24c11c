import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { receiver } from "../support/receiver.js"
import { call, testServer } from "./support.js"

const putSinks = (sinks: Record<string, unknown>) =>
  Effect.flatMap(Herald, (h) => h.putSettings({ sinks, routes: [] }))

layer(testServer(), { excludeTestServices: true })("POST /v1/sinks/:name/test", (it) => {
  it.scoped("sends a made-up notification through the sink now and answers what happened, storing nothing", () =>
    Effect.gen(function* () {
      const ok = yield* receiver()
      const down = yield* receiver(() => ({ status: 503, body: "maintenance" }))
      yield* putSinks({
        good: { type: "webhook", url: `${ok.url}/in`, allowPrivateNetwork: true },
        // Disabled sinks can be tested before they are switched on.
        bad: { type: "webhook", url: down.url, allowPrivateNetwork: true, enabled: false },
        guarded: { type: "webhook", url: ok.url }
      })
      const before = (yield* call("GET", "/v1/stats")).body
      const good = yield* call("POST", "/v1/sinks/good/test")
      expect(good.status).toBe(200)
      expect(good.body).toMatchObject({ sink: "good", ok: true })
      expect(good.body.deliveryId).toMatch(/^tst_/)
      expect(ok.received).toHaveLength(1)
      expect(ok.received[0]!.headers["webhook-id"]).toBe(good.body.deliveryId)
      expect(JSON.parse(ok.received[0]!.body).data.notification).toMatchObject({ kind: "herald.test", title: "Herald test notification" })

      const bad = yield* call("POST", "/v1/sinks/bad/test")
      expect(bad.status).toBe(200)
      expect(bad.body).toMatchObject({ sink: "bad", ok: false, code: "http_503", retryable: true })
      expect(bad.body.message).toContain("maintenance")

      const guarded = yield* call("POST", "/v1/sinks/guarded/test")
      expect(guarded.body).toMatchObject({ ok: false, code: "private_network", retryable: false })
      expect(ok.received).toHaveLength(1)

      // Nothing was stored: no notification, no delivery, no count moved.
      expect((yield* call("GET", "/v1/stats")).body).toEqual(before)
      expect((yield* call("GET", "/v1/notifications?kind=herald.test")).body.items).toEqual([])
    }))

  it.effect("an unknown sink is a 404 naming it; a pull sink is a 400 that says why", () =>
    Effect.gen(function* () {
      yield* putSinks({ desk: { type: "desktop" } })
      const missing = yield* call("POST", "/v1/sinks/nope/test")
      expect(missing.status).toBe(404)
      expect(missing.body).toMatchObject({ code: "SinkNotFound", sink: "nope" })
      // A name of Object.prototype is no sink of the settings either.
      const inherited = yield* call("POST", "/v1/sinks/constructor/test")
      expect(inherited.status).toBe(404)
      expect(inherited.body).toMatchObject({ code: "SinkNotFound", sink: "constructor" })
      const pull = yield* call("POST", "/v1/sinks/desk/test")
      expect(pull.status).toBe(400)
      expect(pull.body).toMatchObject({ code: "InvalidInput", path: "sink" })
      expect(pull.body.detail).toContain("claims deliveries")
    }))
})
