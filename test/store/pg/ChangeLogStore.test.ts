/**
 * The ChangeLogStore contract on PostgreSQL, and what only PostgreSQL has: every process's
 * supervisor saves its offset to the same row, and a save that meets another transaction's
 * save of the same consumer skips instead of waiting on its row lock.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { pgChangeLogStore } from "../../../src/store/pg/ChangeLogStore.js"
import { ChangeLogStore } from "../../../src/store/ChangeLogStore.js"
import { Writer } from "../../../src/store/Writer.js"
import { changeLogStoreContract } from "../contract/ChangeLogStore.js"
import { pgEngine } from "../contract/engines.js"

const engine = pgEngine(pgChangeLogStore)
changeLogStoreContract(engine)

describe("ChangeLogStore on PostgreSQL, offsets saved by several processes", () => {
  it.effect("a save meeting another transaction's save of the same consumer returns at once and leaves that one's value", () =>
    Effect.gen(function* () {
      const changes = yield* ChangeLogStore
      const writer = yield* Writer
      const sql = yield* SqlClient.SqlClient
      yield* writer.transaction(changes.saveOffset("supervisor", 1, 100))
      const saving = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const first = yield* Effect.fork(writer.transaction(Effect.gen(function* () {
        yield* changes.saveOffset("supervisor", 7, 107)
        yield* Deferred.succeed(saving, undefined)
        yield* Deferred.await(release)
      })))
      yield* Deferred.await(saving)
      // Waiting on the first's row lock would fail this at the lock timeout instead of returning.
      yield* Effect.ensuring(
        writer.transaction(Effect.zipRight(sql`SET LOCAL lock_timeout = '1s'`, changes.saveOffset("supervisor", 5, 105))),
        Deferred.succeed(release, undefined)
      )
      yield* Fiber.join(first)
      expect(yield* changes.offsetRow("supervisor")).toEqual({ consumer: "supervisor", seq: 7, updatedAt: 107 })
      // Alone, a save sets the offset as before (backwards too).
      yield* writer.transaction(changes.saveOffset("supervisor", 3, 110))
      expect(yield* changes.offset("supervisor")).toBe(3)
    }).pipe(Effect.provide(engine.storage)))
})
