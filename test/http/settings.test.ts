import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { call, testServer } from "./support.js"

const document = {
  enabled: true,
  sinks: {
    hook: { type: "webhook", url: "https://example.com/hook", secret: "whsec_real" },
    chat: { type: "slack", url: "https://hooks.slack.com/services/T/B/real" },
    desk: { type: "desktop" }
  },
  routes: [{ sink: "desk", minPriority: "low" }],
  retry: { maxAttempts: 3, baseMs: 1_000, factor: 2, capMs: 60_000 },
  leaseMs: 20_000
}

layer(testServer(), { excludeTestServices: true })("HTTP settings", (it) => {
  it.effect("secrets come back masked, and a masked value sent back keeps the stored secret", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const put = yield* call("PUT", "/v1/settings", { body: document })
      expect(put.status).toBe(200)
      expect(put.body.sinks.hook.secret).toBe("********")
      const got = yield* call("GET", "/v1/settings")
      expect(got.body.sinks.hook).toMatchObject({ url: "https://example.com/hook", secret: "********" })
      expect(got.body.sinks.chat.url).toBe("********")
      // Send the masked document back with one change: the secrets survive.
      const again = yield* call("PUT", "/v1/settings", { body: { ...got.body, leaseMs: 25_000 } })
      expect(again.status).toBe(200)
      const stored = yield* herald.getSettings
      expect(stored.leaseMs).toBe(25_000)
      expect(stored.sinks["hook"]).toMatchObject({ secret: "whsec_real" })
      expect(stored.sinks["chat"]).toMatchObject({ url: "https://hooks.slack.com/services/T/B/real" })
    }))

  it.effect("a masked secret sent back with a new destination is refused: the stored secret never follows it", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const mail = { type: "email", host: "smtp.example.com", port: 587, user: "herald", password: "hunter2", from: "h@example.com", to: ["ops@example.com"] }
      expect((yield* call("PUT", "/v1/settings", { body: { ...document, sinks: { ...document.sinks, mail } } })).status).toBe(200)
      const got = (yield* call("GET", "/v1/settings")).body
      const before = yield* herald.getSettings
      const moved = yield* call("PUT", "/v1/settings", { body: { ...got, sinks: { ...got.sinks, mail: { ...got.sinks.mail, host: "attacker.example.net" } } } })
      expect(moved.status).toBe(400)
      expect(moved.body.path).toBe("sinks.mail.password")
      expect(moved.body.detail).toContain("host changed")
      const hook = yield* call("PUT", "/v1/settings", { body: { ...got, sinks: { ...got.sinks, hook: { ...got.sinks.hook, url: "https://attacker.example.net/h" } } } })
      expect(hook.status).toBe(400)
      expect(hook.body.path).toBe("sinks.hook.secret")
      expect(yield* herald.getSettings).toEqual(before)
      // With the real secret sent again, the new destination is accepted.
      const resent = yield* call("PUT", "/v1/settings", { body: { ...got, sinks: { ...got.sinks, mail: { ...got.sinks.mail, host: "smtp2.example.com", password: "new-secret" } } } })
      expect(resent.status).toBe(200)
      expect((yield* herald.getSettings).sinks["mail"]).toMatchObject({ host: "smtp2.example.com", password: "new-secret" })
    }))

  it.effect("an unknown sink type or a bad policy answers 400 with the field path and changes nothing", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const before = yield* herald.getSettings
      const badType = yield* call("PUT", "/v1/settings", { body: { ...document, sinks: { pager: { type: "pager" } } } })
      expect(badType.status).toBe(400)
      expect(badType.body.code).toBe("InvalidInput")
      expect(badType.body.path).toContain("sinks.pager")
      const badPolicy = yield* call("PUT", "/v1/settings", { body: { ...document, retry: { baseMs: 10_000, capMs: 5_000 } } })
      expect(badPolicy.status).toBe(400)
      expect(badPolicy.body.path).toBe("retry.capMs")
      const maskedNew = yield* call("PUT", "/v1/settings", { body: { ...document, sinks: { other: { type: "webhook", url: "https://x.example/h", secret: "********" } } } })
      expect(maskedNew.status).toBe(400)
      expect(maskedNew.body.path).toBe("sinks.other.secret")
      expect(yield* herald.getSettings).toEqual(before)
    }))
})
