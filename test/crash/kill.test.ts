import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Herald } from "../../src/layers/Herald.js"
import { eventually, provideHerald, tempDir } from "../support/herald.js"

const worker = new URL("./worker.mjs", import.meta.url).pathname

/** Lines the log sink wrote, per delivery id. */
const linesPerDelivery = (file: string) => {
  const counts = new Map<string, number>()
  if (!fs.existsSync(file)) return counts
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue
    const id = (JSON.parse(line) as { deliveryId: string }).deliveryId
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  return counts
}

/** Runs the worker until it has delivered `atLeast` lines, then kills it with SIGKILL. */
const crashMidLoad = (db: string, log: string, count: number, atLeast: number) =>
  Effect.async<number>((resume) => {
    const child = spawn(process.execPath, [worker, db, log, String(count)], { stdio: ["ignore", "pipe", "inherit"] })
    let delivered = 0
    // Watching another process: its progress is real time, so this polls the file it writes.
    const poll = setInterval(() => {
      delivered = linesPerDelivery(log).size
      if (delivered >= atLeast) child.kill("SIGKILL")
    }, 20)
    child.on("exit", (_code, signal) => {
      clearInterval(poll)
      resume(signal === "SIGKILL" ? Effect.succeed(delivered) : Effect.dieMessage(`the worker exited on its own (${signal ?? _code})`))
    })
    setTimeout(() => child.kill("SIGKILL"), 30_000).unref()
  })

describe("a crash loses nothing", () => {
  it.scoped("after kill -9 in the middle of a load, a restart delivers every notification, and no line is written without an attempt", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const db = path.join(dir, "herald.db")
      const log = path.join(dir, "deliveries.log")
      const n = 1_000
      const before = yield* crashMidLoad(db, log, n, 100)
      expect(before).toBeLessThan(n)
      // Resume with the clock past every lease the dead process held and every backoff.
      yield* TestClock.setTime(Date.now() + 60_000)
      yield* provideHerald(db, Effect.gen(function* () {
        const herald = yield* Herald
        // The leases the dead process held are rescued as failed attempts, waiting one backoff (1 s here).
        yield* eventually(herald.stats(), (s) => (s.byStatus["leased"] ?? 0) === 0 && (s.byStatus["pending"] ?? 0) === 0, "leases rescued", 20_000)
        yield* TestClock.adjust("1 second")
        const stats = yield* eventually(herald.stats(), (s) => (s.byStatus["sent"] ?? 0) === n, "all sent after the crash", 20_000)
        expect(stats.byStatus).toEqual({ sent: n })
        const lines = linesPerDelivery(log)
        expect(lines.size).toBe(n)
        const page = yield* herald.listDeliveries({ limit: 1_000 })
        for (const d of page.items) {
          const { attempts } = yield* herald.getDelivery(d.id)
          expect(lines.get(d.id) ?? 0).toBeLessThanOrEqual(attempts.length)
          expect(attempts.at(-1)!.outcome).toBe("sent")
        }
      }), { logDir: dir })
    }))
})
