import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Herald } from "../../src/layers/Herald.js"
import { resolveLogPath } from "../../src/sinks/logPath.js"
import { provideHerald, tempDir } from "../support/herald.js"
import { whenIo } from "../support/receiver.js"

const logSettings = (file: string) => ({
  sinks: { audit: { type: "log", path: file } },
  routes: [{ sink: "audit", minPriority: "low" }]
})

/** A log directory and, beside it, a directory it must not reach. */
const dirs = Effect.gen(function* () {
  const root = yield* tempDir
  const logs = path.join(root, "logs")
  const outside = path.join(root, "outside")
  fs.mkdirSync(logs)
  fs.mkdirSync(outside)
  return { root, logs, outside }
})

const refused = (r: ReturnType<typeof resolveLogPath>) => "refused" in r

describe("log sink paths", () => {
  it.scoped("a path is accepted only inside the log directory, after `..` and symbolic links are resolved", () =>
    Effect.gen(function* () {
      const { root, logs, outside } = yield* dirs
      fs.mkdirSync(path.join(logs, "sub"))
      fs.writeFileSync(path.join(outside, "victim"), "")
      fs.symlinkSync(path.join(outside, "victim"), path.join(logs, "to-victim"))
      fs.symlinkSync(outside, path.join(logs, "to-outside"))
      fs.symlinkSync(path.join(outside, "not-yet"), path.join(logs, "dangling"))
      fs.writeFileSync(path.join(logs, "kept.jsonl"), "")
      fs.symlinkSync(path.join(logs, "kept.jsonl"), path.join(logs, "alias.jsonl"))
      fs.symlinkSync(logs, path.join(root, "logs-link"))
      const real = fs.realpathSync(logs)

      expect(resolveLogPath(logs, "herald.jsonl")).toEqual({ file: path.join(real, "herald.jsonl") })
      expect(resolveLogPath(logs, path.join(logs, "sub", "new.jsonl"))).toEqual({ file: path.join(real, "sub", "new.jsonl") })
      expect(resolveLogPath(logs, "sub/../..foo")).toEqual({ file: path.join(real, "..foo") })
      expect(resolveLogPath(logs, "alias.jsonl")).toEqual({ file: path.join(real, "kept.jsonl") })
      // The directory may itself be reached through a link.
      expect(resolveLogPath(path.join(root, "logs-link"), "a.jsonl")).toEqual({ file: path.join(real, "a.jsonl") })

      for (const escape of ["../outside/victim", path.join(outside, "victim"), "/etc/passwd", "to-victim", "to-outside/x", "dangling", "", ".", "sub", "nowhere/x.jsonl"]) {
        expect(refused(resolveLogPath(logs, escape)), escape).toBe(true)
      }
      expect(refused(resolveLogPath(undefined, "herald.jsonl"))).toBe(true)
      expect(refused(resolveLogPath(path.join(root, "missing"), "herald.jsonl"))).toBe(true)
    }))

  it.scoped("settings with a log path outside the log directory, or any path without one, are refused at the path and write nothing", () =>
    Effect.gen(function* () {
      const { root, logs, outside } = yield* dirs
      const victim = path.join(outside, "victim")
      for (const logDir of [logs, undefined]) {
        yield* provideHerald(path.join(root, `h-${logDir === undefined ? "none" : "dir"}.db`), Effect.gen(function* () {
          const herald = yield* Herald
          const before = yield* herald.getSettings
          for (const file of [victim, "../outside/victim", path.join(logs, "..", "outside", "victim")]) {
            const error = yield* Effect.flip(herald.putSettings(logSettings(file)))
            expect(error).toMatchObject({ _tag: "InvalidInput", issues: [{ path: "sinks.audit.path" }] })
          }
          expect(yield* herald.getSettings).toEqual(before)
        }), { background: false, logDir })
      }
      expect(fs.existsSync(victim)).toBe(false)
    }))

  it.scoped("a log sink appends one JSON line per delivery to its file in the log directory", () =>
    Effect.gen(function* () {
      const { root, logs } = yield* dirs
      yield* provideHerald(path.join(root, "h.db"), Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings(logSettings("audit.jsonl"))
        const { notification } = yield* herald.enqueue({ kind: "k", title: "to the file" })
        yield* whenIo(herald.getNotification(notification.id), (n) => n.deliveries[0]?.status === "sent", "sent")
      }), { logDir: logs })
      const lines = fs.readFileSync(path.join(logs, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
      expect(lines).toMatchObject([{ herald: "delivery", sink: "audit", title: "to the file" }])
    }))

  it.scoped("a stored document whose log path is no longer allowed still loads, and its deliveries fail for good without writing", () =>
    Effect.gen(function* () {
      const { root, logs, outside } = yield* dirs
      const db = path.join(root, "h.db")
      const victim = path.join(outside, "victim")
      yield* provideHerald(db, Effect.flatMap(Herald, (h) => h.putSettings(logSettings("audit.jsonl"))), { background: false, logDir: logs })
      // Written by an older Herald, or by hand: a path outside the directory.
      const raw = new Database(db)
      raw.prepare("UPDATE settings SET document = ?, version = version + 1 WHERE id = 1").run(JSON.stringify(logSettings(victim)))
      raw.close()
      for (const logDir of [logs, undefined]) {
        yield* provideHerald(db, Effect.gen(function* () {
          const herald = yield* Herald
          expect((yield* herald.getSettings).sinks["audit"]).toMatchObject({ type: "log", path: victim })
          const { notification } = yield* herald.enqueue({ kind: "k", title: "must not land" })
          const d = yield* whenIo(herald.getNotification(notification.id).pipe(Effect.map((n) => n.deliveries[0])), (d) => d?.status === "dead", "dead")
          expect(d).toMatchObject({ attempts: 1, lastErrorCode: "log_path_not_allowed" })
        }), { logDir })
      }
      expect(fs.existsSync(victim)).toBe(false)
    }))
})
