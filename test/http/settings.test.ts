import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Herald } from "../../src/layers/Herald.js"
import { documentWith, missing, secrets, spoilers } from "../support/secrets.js"
import { call, TestServer, testServer } from "./support.js"

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

layer(testServer(), { excludeTestServices: true })("HTTP settings: secrets never leave in answers or errors", (it) => {
  it.effect("a webhook URL comes back with its credentials and query values masked, keeping scheme, host and path; sent back masked, the stored URL stays", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const url = "https://alice:pa55word@example.com:8443/hook/in?token=tok_live_123&team=ops"
      const hook = { type: "webhook", url, secret: "whsec_real" }
      expect((yield* call("PUT", "/v1/settings", { body: { ...document, sinks: { ...document.sinks, hook } } })).status).toBe(200)
      const got = yield* call("GET", "/v1/settings")
      expect(got.body.sinks.hook.url).toBe("https://***@example.com:8443/hook/in?token=***&team=***")
      expect(JSON.stringify(got.body)).not.toContain("pa55word")
      expect(JSON.stringify(got.body)).not.toContain("tok_live_123")
      const again = yield* call("PUT", "/v1/settings", { body: { ...got.body, leaseMs: 21_000 } })
      expect(again.status).toBe(200)
      expect(again.body.sinks.hook.url).toBe(got.body.sinks.hook.url)
      expect((yield* herald.getSettings).sinks["hook"]).toMatchObject({ url, secret: "whsec_real" })
      // A masked URL that is not the stored one's mask is refused, not stored with its asterisks.
      const before = yield* herald.getSettings
      const other = yield* call("PUT", "/v1/settings", { body: { ...got.body, sinks: { ...got.body.sinks, hook: { ...got.body.sinks.hook, url: "https://***@other.example.com/hook?token=***" } } } })
      expect(other.status).toBe(400)
      expect(other.body.path).toBe("sinks.hook.url")
      expect(yield* herald.getSettings).toEqual(before)
      // A real new URL replaces the stored one; the masked secret is refused since its destination moved.
      const moved = yield* call("PUT", "/v1/settings", { body: { ...got.body, sinks: { ...got.body.sinks, hook: { ...got.body.sinks.hook, url: "https://example.com/hook/in?token=new" } } } })
      expect(moved.status).toBe(400)
      expect(moved.body.path).toBe("sinks.hook.secret")
    }))

  it.effect("a PUT whose secret has the wrong type answers 400 at its path without echoing the value", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      expect((yield* call("PUT", "/v1/settings", { body: document })).status).toBe(200)
      const before = yield* herald.getSettings
      const mail = { type: "email", host: "smtp.example.com", port: 587, password: { value: "hunter2-correct-horse" }, from: "h@example.com", to: ["ops@example.com"] }
      const cases = [
        { sinks: { hook: { type: "webhook", url: "https://example.com/hook", secret: 7_391_046_225_118 } } },
        { sinks: { mail } },
        // The type is unknown: the whole sink (its secret too) is what fails to match.
        { sinks: { chat: { type: "slak", url: "https://hooks.slack.com/services/T0/B0/xoxb-sekrit" } } },
        { sinks: { hook: { type: "webhook", url: { href: "https://user:hunter3@example.com/h" } } } }
      ]
      for (const sinks of cases) {
        const answer = yield* call("PUT", "/v1/settings", { body: { ...document, ...sinks } })
        expect(answer.status).toBe(400)
        expect(answer.body.code).toBe("InvalidInput")
        expect(answer.body.path).toMatch(/^sinks\./)
        const text = JSON.stringify(answer.body)
        for (const secret of ["7391046225118", "hunter2-correct-horse", "xoxb-sekrit", "hunter3"]) expect(text).not.toContain(secret)
      }
      const notJson = yield* call("PUT", "/v1/settings", { raw: '{"sinks":{"hook":{"type":"webhook","secret":"whsec_c2VjcmV0LXNlY3JldA==" oops}}}', headers: { "content-type": "application/json" } })
      expect(notJson.status).toBe(400)
      expect(JSON.stringify(notJson.body)).not.toContain("c2VjcmV0LXNlY3JldA")
      expect(yield* herald.getSettings).toEqual(before)
    }))

  it.effect("a log sink with a path answers 400 at the path when HERALD_LOG_DIR is unset, and nothing is written", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const before = yield* herald.getSettings
      const file = path.join(os.tmpdir(), `herald-not-here-${process.pid}.jsonl`)
      const answer = yield* call("PUT", "/v1/settings", { body: { sinks: { audit: { type: "log", path: file } }, routes: [{ sink: "audit" }] } })
      expect(answer.status).toBe(400)
      expect(answer.body).toMatchObject({ code: "InvalidInput", path: "sinks.audit.path" })
      expect(answer.body.detail).toContain("HERALD_LOG_DIR")
      expect(yield* herald.getSettings).toEqual(before)
      expect(fs.existsSync(file)).toBe(false)
    }))

  it.effect("for any document and any way it is wrong, neither the answer to GET nor a 400 carries a secret", () =>
    Effect.gen(function* () {
      const server = yield* TestServer
      const herald = yield* Herald
      const run = <A>(e: Effect.Effect<A, never, TestServer>) => Effect.runPromise(Effect.provideService(e, TestServer, server))
      yield* Effect.promise(() => fc.assert(fc.asyncProperty(
        secrets, fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: spoilers.length - 1 }),
        async (s, userinfo, query, spoiler) => {
          const doc = documentWith(s, { userinfo, query })
          const put = await run(call("PUT", "/v1/settings", { body: doc }))
          expect(put.status).toBe(200)
          const got = await run(call("GET", "/v1/settings"))
          expect(missing(JSON.stringify([put.body, got.body]), s)).toEqual([])
          const bad = await run(call("PUT", "/v1/settings", { body: spoilers[spoiler]!(doc, s) }))
          expect(bad.status).toBe(400)
          expect(missing(JSON.stringify(bad.body), s)).toEqual([])
        }), { numRuns: 25 }))
      expect(Object.keys((yield* herald.getSettings).sinks)).toEqual(["hook", "agents", "chat", "mail", "stdout"])
    }))

  it.effect("a sink's own retry fields are kept and returned, and a bad one answers 400 at sinks.<name>.retry.<field> and changes nothing", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      const own = { ...document, sinks: { ...document.sinks, desk: { type: "desktop", retry: { maxAttempts: 8, baseMs: 500 } } } }
      const put = yield* call("PUT", "/v1/settings", { body: own })
      expect(put.status).toBe(200)
      expect((yield* call("GET", "/v1/settings")).body.sinks.desk).toEqual({ type: "desktop", enabled: true, retry: { maxAttempts: 8, baseMs: 500 } })
      const before = yield* herald.getSettings
      const bad = [
        [{ maxAttempts: 0 }, "maxAttempts"],
        [{ maxAttempts: 1_001 }, "maxAttempts"],
        [{ baseMs: 1.5 }, "baseMs"],
        [{ factor: 11 }, "factor"],
        [{ capMs: -1 }, "capMs"],
        [{ maxRescues: "3" }, "maxRescues"],
        // Combined with the global retry (capMs 60 s), a sink's baseMs above it is refused at its own field.
        [{ baseMs: 120_000 }, "baseMs"],
        [{ capMs: 500 }, "capMs"]
      ] as const
      for (const [retry, field] of bad) {
        const answer = yield* call("PUT", "/v1/settings", { body: { ...document, sinks: { ...document.sinks, hook: { ...document.sinks.hook, retry } } } })
        expect(answer.status, JSON.stringify(retry)).toBe(400)
        expect(answer.body.path, JSON.stringify(retry)).toBe(`sinks.hook.retry.${field}`)
      }
      expect(yield* herald.getSettings).toEqual(before)
    }))
})
