/**
 * The CircuitStore contract on PostgreSQL, and what only PostgreSQL needs: two processes
 * stepping one circuit at once. Each reads the row, steps it and writes it back in one
 * transaction; without a lock the later write is computed from the row before the earlier one
 * and loses it. `of` locks what it reads (an absent row too), so the second waits and reads the
 * first's write.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Schedule } from "effect"
import { pgCircuitStore } from "../../../src/store/pg/CircuitStore.js"
import { type CircuitRow, CircuitStore } from "../../../src/store/CircuitStore.js"
import { Writer } from "../../../src/store/Writer.js"
import { circuitStoreContract, closedRow, openRow } from "../contract/CircuitStore.js"
import { pgStorage } from "../contract/engines.js"

/** Until another connection to this database waits for a lock (a row lock or an advisory one). */
const someoneWaitsForALock = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
).pipe(
  Effect.repeat({ until: (rows) => rows[0]!.n > 0, schedule: Schedule.spaced("5 millis") }),
  Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("no transaction waited for the lock") })
)

/** How a step reads the circuit inside its transaction. */
type ReadCircuit = (sink: string) => Effect.Effect<CircuitRow | undefined, unknown, CircuitStore | SqlClient.SqlClient>

/** One retryable failure counted on `sink`: read, step, write, in one transaction; `gate` runs between the read and the write. */
const countFailure = (read: ReadCircuit, sink: string, gate: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const writer = yield* Writer
    const store = yield* CircuitStore
    return yield* writer.transaction(Effect.gen(function* () {
      const row = (yield* read(sink)) ?? { ...closedRow(sink, 1), version: 0 }
      yield* gate
      yield* store.write([{ ...row, context: { ...row.context, consecutiveFailures: row.context.consecutiveFailures + 1 } }])
    }))
  })

const locked: ReadCircuit = (sink) => Effect.flatMap(CircuitStore, (store) => Effect.map(store.of([sink]), (rows) => rows.get(sink)))

/** A plain read, as `of` would be without its locks. */
const unlocked: ReadCircuit = (sink) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ n: number }>`SELECT consecutive_failures AS n FROM circuits WHERE sink = ${sink}`, (rows) =>
      rows[0] === undefined ? undefined : { ...closedRow(sink, 1), context: { ...closedRow(sink, 1).context, consecutiveFailures: rows[0].n }, version: 0 }))

/** A counts a failure and waits after its read; B counts one meanwhile; then A goes on. */
const race = (read: ReadCircuit, sink: string, bMustWait: boolean) =>
  Effect.gen(function* () {
    const aRead = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const a = yield* Effect.fork(countFailure(read, sink, Effect.zipRight(Deferred.succeed(aRead, undefined), Deferred.await(release))))
    yield* Deferred.await(aRead)
    const b = yield* Effect.fork(countFailure(read, sink, Effect.void))
    if (bMustWait) yield* someoneWaitsForALock
    else yield* Fiber.join(b)
    yield* Deferred.succeed(release, undefined)
    yield* Fiber.join(a)
    yield* Fiber.join(b)
    const store = yield* CircuitStore
    return (yield* store.all).find((r) => r.sink === sink)!
  })

describe("CircuitStore on PostgreSQL", () => {
  circuitStoreContract(pgStorage, pgCircuitStore)

  const run = <A, E>(body: Effect.Effect<A, E, CircuitStore | Writer | SqlClient.SqlClient>) =>
    body.pipe(Effect.provide(Layer.provideMerge(pgCircuitStore, pgStorage)))

  it.scopedLive("two transactions counting a failure on one circuit serialise: the second reads the first's write", () =>
    run(Effect.gen(function* () {
      const writer = yield* Writer
      const store = yield* CircuitStore
      yield* writer.transaction(store.write([openRow("s", 1)]))
      const row = yield* race(locked, "s", true)
      expect(row.context.consecutiveFailures).toBe(openRow("s", 1).context.consecutiveFailures + 2)
      expect(row.version).toBe(3)
    })))

  it.scopedLive("two first failures of a sink without a row serialise too: both are counted", () =>
    run(Effect.gen(function* () {
      const row = yield* race(locked, "new", true)
      expect(row.context.consecutiveFailures).toBe(2)
      expect(row.version).toBe(2)
    })))

  it.scopedLive("without the lock the same race loses a failure (what the lock is for)", () =>
    run(Effect.gen(function* () {
      const writer = yield* Writer
      const store = yield* CircuitStore
      yield* writer.transaction(store.write([closedRow("s", 1)]))
      const row = yield* race(unlocked, "s", false)
      expect(row.context.consecutiveFailures).toBe(1)
    })))

  it.scopedLive("notClosed holds the rows it read: a transaction that steps one of them waits for it", () =>
    run(Effect.gen(function* () {
      const writer = yield* Writer
      const store = yield* CircuitStore
      yield* writer.transaction(store.write([openRow("s", 1)]))
      const read = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(writer.transaction(Effect.gen(function* () {
        const rows = yield* store.notClosed
        yield* Deferred.succeed(read, undefined)
        yield* Deferred.await(release)
        yield* store.write(rows.map((r) => ({ ...r, status: "closed" as const, context: { ...r.context, consecutiveFailures: 0, cooldownMs: null, openedAt: null, probeAt: null }, updatedAt: 2 })))
      })))
      yield* Deferred.await(read)
      const other = yield* Effect.fork(writer.transaction(store.of(["s"])))
      yield* someoneWaitsForALock
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const seen = (yield* Fiber.join(other)).get("s")!
      expect(seen.status).toBe("closed")
      expect(seen.version).toBe(2)
    })))

  it.scopedLive("notClosed waits for a transaction stepping a circuit, and leaves out the one it closed", () =>
    run(Effect.gen(function* () {
      const writer = yield* Writer
      const store = yield* CircuitStore
      yield* writer.transaction(store.write([openRow("a", 1), openRow("s", 1)]))
      const read = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const closer = yield* Effect.fork(writer.transaction(Effect.gen(function* () {
        yield* store.of(["s"])
        yield* Deferred.succeed(read, undefined)
        yield* Deferred.await(release)
        yield* store.write([closedRow("s", 2)])
      })))
      yield* Deferred.await(read)
      const other = yield* Effect.fork(writer.transaction(store.notClosed))
      yield* someoneWaitsForALock
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(closer)
      expect((yield* Fiber.join(other)).map((r) => r.sink)).toEqual(["a"])
    })))
})
