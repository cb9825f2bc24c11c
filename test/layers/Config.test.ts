import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Either, Option, Redacted } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { tempDir } from "../support/herald.js"
import { HttpEnvConfig } from "../../src/http/HttpOptions.js"
import { DaemonConfig } from "../../src/layers/Config.js"
import { describeConfigError } from "../../src/lib/envVar.js"

const readDaemon = (env: Record<string, string>) =>
  Effect.withConfigProvider(DaemonConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))

const everything = Config.all({ daemon: DaemonConfig, http: HttpEnvConfig })

/** The environment `env` as the daemon reads it: its settings, or the line it would stop with. */
const read = (env: Record<string, string>) =>
  Effect.runSync(Effect.either(Effect.withConfigProvider(everything, ConfigProvider.fromMap(new Map(Object.entries(env)))))).pipe(
    Either.mapLeft(describeConfigError)
  )

describe("the HERALD_* variables", () => {
  it("unset, each has its default", () => {
    const ok = Either.getOrThrow(read({}))
    expect(ok.daemon).toEqual({ database: "./herald.db", databaseUrl: Option.none(), sync: "NORMAL", changeRetentionHours: 168, historyRetentionDays: 30, maxQueuedEnqueues: 10_000, logDir: Option.none() })
    expect(ok.http).toEqual({ host: "127.0.0.1", port: 7878, token: Option.none(), maxBodyBytes: 1024 * 1024 })
  })

  it("good values are read as what they say", () => {
    const ok = Either.getOrThrow(read({
      HERALD_DB: "/var/lib/herald/h.db", HERALD_DATABASE_URL: "postgres://herald:secret@db.internal:5432/herald", HERALD_SYNC: "FULL", HERALD_HOST: "::", HERALD_PORT: "0", HERALD_TOKEN: "0123456789abcdef",
      HERALD_MAX_BODY_BYTES: "1024", HERALD_CHANGE_RETENTION_HOURS: "0.5", HERALD_HISTORY_RETENTION_DAYS: "0"
    }))
    expect(ok.daemon).toEqual({ database: "/var/lib/herald/h.db", databaseUrl: Option.some("postgres://herald:secret@db.internal:5432/herald"), sync: "FULL", changeRetentionHours: 0.5, historyRetentionDays: 0, maxQueuedEnqueues: 10_000, logDir: Option.none() })
    expect({ ...ok.http, token: Option.map(ok.http.token, Redacted.value) })
      .toEqual({ host: "::", port: 0, token: Option.some("0123456789abcdef"), maxBodyBytes: 1024 })
    expect(Either.getOrThrow(read({ HERALD_PORT: "65535", HERALD_MAX_BODY_BYTES: "67108864", HERALD_HISTORY_RETENTION_DAYS: "1.5" })).http.port).toBe(65_535)
  })

  it("a bad value is one line: the variable, the rule it broke, and what it got", () => {
    const bad: Record<string, ReadonlyArray<string>> = {
      HERALD_DB: [""],
      HERALD_DATABASE_URL: ["", "mysql://localhost/herald", "postgres://", "herald.db"],
      HERALD_SYNC: ["SOMETIMES", "normal", "", " FULL"],
      HERALD_HOST: [""],
      HERALD_PORT: ["70000", "65536", "abc", "-1", "80.5", "0x50", "1e3", " 80", ""],
      HERALD_MAX_BODY_BYTES: ["-1", "1023", "67108865", "1e6", "1MiB", ""],
      HERALD_CHANGE_RETENTION_HOURS: ["0", "-1", "a week", "Infinity", "NaN", ""],
      HERALD_HISTORY_RETENTION_DAYS: ["0.5", "-1", "Infinity", "30d", ""]
    }
    for (const [name, values] of Object.entries(bad)) {
      for (const value of values) {
        const line = Either.getLeft(read({ [name]: value })).pipe(Option.getOrThrow)
        expect(line, `${name}=${value}`).toMatch(new RegExp(`^${name} must be [^\\n]+ \\(got ${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\)$`))
      }
    }
    expect(Either.getLeft(read({ HERALD_PORT: "x", HERALD_SYNC: "y" }))).toEqual(Option.some(
      'HERALD_SYNC must be NORMAL or FULL (got "y"); HERALD_PORT must be a port number, 0-65535 (got "x")'
    ))
  })

  it("for any value, HERALD_PORT is a whole number from 0 to 65535 or the line that says so", () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.integer({ min: -10, max: 70_000 }).map(String)), (raw) => {
      const result = read({ HERALD_PORT: raw })
      if (/^\d+$/.test(raw) && Number(raw) <= 65_535) expect(result).toEqual(Either.right(expect.objectContaining({ http: expect.objectContaining({ port: Number(raw) }) })))
      else expect(result).toEqual(Either.left(`HERALD_PORT must be a port number, 0-65535 (got ${JSON.stringify(raw)})`))
    }))
  })

  it("a short HERALD_TOKEN is refused with its length, never its value", () => {
    fc.assert(fc.property(fc.string({ maxLength: 15 }), (token) => {
      expect(read({ HERALD_TOKEN: token })).toEqual(Either.left(`HERALD_TOKEN must be at least 16 characters (got ${token.length})`))
    }))
  })
})

describe("DaemonConfig", () => {
  it.scoped("HERALD_LOG_DIR is unset by default (log sinks write to stdout only), an existing directory, or a failure naming it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      expect((yield* readDaemon({})).logDir).toEqual(Option.none())
      expect((yield* readDaemon({ HERALD_LOG_DIR: dir })).logDir).toEqual(Option.some(dir))
      fs.writeFileSync(path.join(dir, "file"), "")
      for (const bad of [path.join(dir, "missing"), path.join(dir, "file")]) {
        const error = yield* Effect.flip(readDaemon({ HERALD_LOG_DIR: bad }))
        expect(String(error)).toContain("HERALD_LOG_DIR")
        expect(String(error)).toContain("must be an existing directory")
      }
    }))
})
