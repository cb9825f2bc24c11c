import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Cause, Effect, Exit, Logger, TestClock } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { Supervisor } from "../../src/runtime/Supervisor.js"
import { eventually, provideHerald, tempDb } from "../support/herald.js"

const secrets = ["hunter9-raw", "tok_raw_4242", "424242424242", "pw-raw-secret", "c2VjcmV0LXJhdw"]

/** A stored document of the right shape whose secret-bearing fields hold values of the wrong type. */
const wrongTyped = JSON.stringify({
  sinks: {
    hook: { type: "webhook", url: "https://u:hunter9-raw@example.com/h?token=tok_raw_4242", secret: 424242424242, timeoutMs: "slow" },
    mail: { type: "email", host: "smtp.example.com", port: 587, password: { v: "pw-raw-secret" }, from: "h@example.com", to: ["o@example.com"] },
    chat: { type: "slak", url: "https://hooks.slack.com/services/T/B/tok_raw_4242" }
  }
})
const notJson = '{"sinks":{"hook":{"type":"webhook","secret":"whsec_c2VjcmV0LXJhdw==" oops'

/** Writes `document` into the settings row behind Herald's back, as another program (or a hand edit) would. */
const writeRaw = (db: string, document: string) =>
  Effect.sync(() => {
    const raw = new Database(db)
    try {
      // The table CHECKs json_valid; a program that turns checks off can still store broken JSON.
      raw.pragma("ignore_check_constraints = ON")
      raw.prepare("UPDATE settings SET document = ?, version = version + 1, updated_at = updated_at + 1 WHERE id = 1").run(document)
    } finally {
      raw.close()
    }
  })

const expectNoSecret = (text: string) => {
  for (const s of secrets) expect(text).not.toContain(s)
}

describe("SettingsStore", () => {
  it.scoped("a stored document that does not decode fails the start with its paths, never its values", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      yield* provideHerald(db, Effect.flatMap(Herald, (h) => h.getSettings), { background: false })
      for (const document of [wrongTyped, notJson]) {
        yield* writeRaw(db, document)
        const exit = yield* Effect.exit(provideHerald(db, Effect.flatMap(Herald, (h) => h.getSettings), { background: false }))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isSuccess(exit)) continue
        const failure = Cause.failureOption(exit.cause)
        expect(failure._tag).toBe("Some")
        const error = (failure as { value: { _tag: string; message: string } }).value
        expect(error._tag).toBe("StoredSettingsInvalid")
        if (document === wrongTyped) {
          expect(error.message).toContain("sinks.hook.secret")
          expect(error.message).toContain("sinks.mail.password")
        } else {
          expect(error.message).toContain("not valid JSON")
        }
        expectNoSecret(error.message)
        expectNoSecret(Cause.pretty(exit.cause))
      }
    }))

  it.scoped("a document another process stores that does not decode is logged without its values, and the one in force stays", () =>
    Effect.gen(function* () {
      const db = yield* tempDb
      const lines: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message, cause }) => {
        lines.push(`${String(message)} ${Cause.pretty(cause)}`)
      }))
      yield* provideHerald(db, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings({ sinks: { mem: { type: "memory" } }, routes: [{ sink: "mem" }] })
        const before = yield* herald.getSettings
        yield* writeRaw(db, wrongTyped)
        yield* Supervisor
        yield* eventually(Effect.gen(function* () {
          yield* TestClock.adjust("1 second")
          return lines.some((l) => l.includes("failed; retrying"))
        }), (seen) => seen, "the failed reload is logged", 200)
        for (const line of lines) expectNoSecret(line)
        expect(lines.join("\n")).toContain("sinks.hook.secret")
        expect(yield* herald.getSettings).toEqual(before)
      })).pipe(Effect.provide(capture))
    }))
})
