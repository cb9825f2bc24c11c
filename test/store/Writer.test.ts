import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Fiber, TestClock } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { writerBusyTimeoutMs } from "../../src/store/sqlite/Sqlite.js"
import { WriterDb } from "../../src/store/sqlite/WriterDb.js"
import { ioTurn, memorySettings, provideHerald, stays, tempDb } from "../support/herald.js"

describe("Writer", () => {
  it.scoped("while another process holds the write lock, a write waits asynchronously and goes through once it is released", () =>
    Effect.gen(function* () {
      const file = yield* tempDb
      yield* provideHerald(file, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings(memorySettings)
        // SQLite waits out busy_timeout by blocking the thread: the writer's is short.
        const { db } = yield* Effect.orDie(Effect.serviceOptional(WriterDb)) // SQLite only: the layer provides it on a file
        expect(db.pragma("busy_timeout", { simple: true })).toBe(writerBusyTimeoutMs)
        const other = new Database(file)
        other.exec("BEGIN IMMEDIATE")
        const write = yield* Effect.fork(herald.enqueue({ kind: "k", title: "waited" }))
        // It tried, found the lock taken, and now waits in a backoff on the (test) clock.
        yield* TestClock.adjust("5 seconds")
        yield* stays(Effect.sync(() => write.unsafePoll()), (r) => r === null, "the write went through while the lock was held")
        other.exec("COMMIT")
        other.close()
        let result = write.unsafePoll()
        for (let i = 0; i < 10 && result === null; i++) {
          yield* TestClock.adjust("1 second")
          yield* ioTurn
          result = write.unsafePoll()
        }
        const enqueued = yield* Fiber.join(write)
        expect(enqueued.created).toBe(true)
        expect((yield* herald.getNotification(enqueued.notification.id)).notification.title).toBe("waited")
      }), { background: false })
    }), 30_000)
})
