import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import fc from "fast-check"
import { Settings } from "../../src/domain/Settings.js"
import { maskSettings, maskUrl, unmaskSettings } from "../../src/http/SettingsMask.js"
import { documentWith, missing, secrets } from "../support/secrets.js"

const decode = Schema.decodeUnknownSync(Settings)
const shapes = fc.record({ userinfo: fc.boolean(), query: fc.boolean() })

describe("SettingsMask", () => {
  it("no secret appears in a masked document, and the masked document sent back is the stored one", () => {
    fc.assert(fc.property(secrets, shapes, (s, shape) => {
      const stored = decode(documentWith(s, shape))
      const masked = maskSettings(stored)
      expect(missing(JSON.stringify(masked), s)).toEqual([])
      const restored = Effect.runSync(unmaskSettings(JSON.parse(JSON.stringify(masked)), stored))
      expect(decode(restored)).toEqual(stored)
    }), { numRuns: 200 })
  })

  it("the GitHub secret leaves masked and comes back as stored, but a mask where none is stored is refused with its path", () => {
    const stored = decode({ integrations: { github: { secret: "gh-webhook-secret" } } })
    const out = maskSettings(stored)
    expect(out.integrations).toEqual({ github: { secret: "********" } })
    expect(Effect.runSync(unmaskSettings(out, stored))).toMatchObject({ integrations: { github: { secret: "gh-webhook-secret" } } })
    const refused = Effect.runSync(Effect.flip(unmaskSettings(out, decode({}))))
    expect(refused.issues).toEqual([expect.objectContaining({ path: "integrations.github.secret" })])
    // A new secret sent in place of the mask replaces the stored one.
    expect(Effect.runSync(unmaskSettings({ integrations: { github: { secret: "rotated" } } }, stored))).toEqual({ integrations: { github: { secret: "rotated" } } })
  })

  it("a masked URL keeps its scheme, host, port, path and parameter names, and masking it again changes nothing", () => {
    const part = fc.stringMatching(/^[A-Za-z0-9_.~-]{1,12}$/)
    const url = fc.record({
      scheme: fc.constantFrom("http", "https"),
      userinfo: fc.option(fc.tuple(part, fc.option(part, { nil: undefined })), { nil: undefined }),
      host: fc.constantFrom("example.com", "hooks.example.com:8443", "127.0.0.1:9000", "[::1]"),
      path: fc.array(part, { maxLength: 3 }).map((p) => `/${p.join("/")}`),
      query: fc.array(fc.tuple(part, fc.option(part, { nil: undefined })), { maxLength: 3 }),
      fragment: fc.option(part, { nil: undefined })
    })
    fc.assert(fc.property(url, (u) => {
      const userinfo = u.userinfo === undefined ? "" : `${u.userinfo[0]}${u.userinfo[1] === undefined ? "" : `:${u.userinfo[1]}`}@`
      const query = u.query.length === 0 ? "" : `?${u.query.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join("&")}`
      const text = `${u.scheme}://${userinfo}${u.host}${u.path}${query}${u.fragment === undefined ? "" : `#${u.fragment}`}`
      const masked = maskUrl(text)
      const parsed = new URL(text)
      const back = new URL(masked)
      expect([back.protocol, back.host, back.pathname]).toEqual([parsed.protocol, parsed.host, parsed.pathname])
      expect(back.username).toBe(u.userinfo === undefined ? "" : "***")
      expect(back.password).toBe("")
      expect([...back.searchParams.keys()]).toEqual(u.query.map(([k, v]) => (v === undefined ? "***" : k)))
      expect([...back.searchParams.values()]).toEqual(u.query.map(([, v]) => (v === undefined ? "" : "***")))
      expect(back.hash).toBe(u.fragment === undefined ? "" : "#***")
      expect(maskUrl(masked)).toBe(masked)
    }), { numRuns: 300 })
  })
})
