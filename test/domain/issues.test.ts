import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, ParseResult, Schema } from "effect"
import fc from "fast-check"
import { decodeInput } from "../../src/domain/decode.js"
import { NotificationInput } from "../../src/domain/Notification.js"
import { tidyIssues } from "../../src/domain/issues.js"
import { Settings } from "../../src/domain/Settings.js"
import { documentWith, missing, secrets, spoilers } from "../support/secrets.js"

describe("tidyIssues", () => {
  it("folds literal misses at one path into one issue, and keeps paths that only look alike apart", () => {
    expect(tidyIssues([
      { path: ["a.b"], message: 'Expected "x", actual "z"' },
      { path: ["a", "b"], message: 'Expected "y", actual "z"' },
      { path: ["a", "b"], message: 'Expected "w", actual "z"' },
      { path: ["k\u0000tail"], message: 'Expected "x", actual "z"' },
      { path: ["k\u0000tail"], message: 'Expected "y", actual "z"' }
    ])).toEqual([
      { path: "a.b", message: 'Expected "x"' },
      { path: "a.b", message: 'Expected one of "y", "w"' },
      { path: "k\u0000tail", message: 'Expected one of "x", "y"' }
    ])
  })

  it("drops an optional's 'Expected undefined' only when a real issue sits at or under its path", () => {
    expect(tidyIssues([
      { path: ["limit"], message: "Expected a number" },
      { path: ["limit"], message: 'Expected undefined, actual "x"' },
      { path: ["ab"], message: 'Expected undefined, actual "y"' },
      { path: ["abc"], message: "Expected a string" }
    ])).toEqual([
      { path: "limit", message: "Expected a number" },
      { path: "ab", message: "Expected undefined" },
      { path: "abc", message: "Expected a string" }
    ])
  })

  it("never drops or changes an issue that is neither a literal miss nor an optional's echo, but for its value", () => {
    const key = fc.constantFrom("a", "b", "a.b", "0")
    const issue = fc.record({
      path: fc.array(key, { maxLength: 3 }),
      message: fc.oneof(
        fc.constantFrom("Expected a number", "is missing", 'Expected undefined, actual "1"', "Expected a string, actual 5"),
        fc.constantFrom("x", "y").map((v) => `Expected "${v}", actual "q"`)
      )
    })
    fc.assert(fc.property(fc.array(issue, { maxLength: 12 }), (issues) => {
      const out = tidyIssues(issues)
      expect(out.length).toBeLessThanOrEqual(issues.length)
      for (const i of issues) {
        if (i.message.startsWith("Expected undefined") || i.message.startsWith('Expected "')) continue
        expect(out).toContainEqual({ path: i.path.join("."), message: i.message.replace(", actual 5", "") })
      }
    }))
  })

  it.effect("every input Herald decodes gets them tidy too, not only the HTTP edge's", () =>
    Effect.gen(function* () {
      const e = yield* Effect.flip(decodeInput(NotificationInput, "notification")({ kind: "k", title: "t", priority: "loud", projectId: 5 }))
      expect(e.issues).toEqual([
        { path: "priority", message: 'Expected one of "low", "normal", "high", "urgent"' },
        { path: "projectId", message: "Expected string" }
      ])
    }))
})

describe("decode errors and secrets", () => {
  const edgeDecode = Schema.decodeUnknownEither(Schema.encodedSchema(Settings), { errors: "all", onExcessProperty: "error" })
  it("no value of a settings document ever appears in its decode errors, at any path, however it is wrong", () => {
    fc.assert(fc.property(secrets, fc.boolean(), fc.boolean(), fc.subarray([...spoilers.keys()], { minLength: 1 }), (s, userinfo, query, which) => {
      let doc: unknown = documentWith(s, { userinfo, query })
      for (const i of which) doc = spoilers[i]!(doc as ReturnType<typeof documentWith>, s)
      // As the library decodes (Herald.putSettings) and as the HTTP edge does (the body's schema).
      const library = Effect.runSync(Effect.flip(decodeInput(Settings, "settings")(doc)))
      expect(missing(`${library.message} ${JSON.stringify(library.issues)}`, s)).toEqual([])
      const edge = edgeDecode(doc)
      if (Either.isLeft(edge)) {
        const issues = tidyIssues(ParseResult.ArrayFormatter.formatErrorSync(edge.left))
        expect(missing(JSON.stringify(issues), s)).toEqual([])
      }
    }), { numRuns: 300 })
  })
})
