/**
 * The CircuitStore contract, for every engine: rows written as upserts (version + 1), read by
 * sink inside the writer's transaction, the not-closed ones, all of them on the reader, and the
 * change_log rows the triggers add for a change of status only.
 */
import { SqlClient } from "@effect/sql"
import { expect, it } from "@effect/vitest"
import { Effect, Layer, type Scope } from "effect"
import type { DeliveryId } from "../../../src/domain/Ids.js"
import { closedCircuit } from "../../../src/machines/circuit.js"
import { type CircuitRow, CircuitStore } from "../../../src/store/CircuitStore.js"
import { Writer } from "../../../src/store/Writer.js"
import type { Storage } from "./engines.js"

type Written = Omit<CircuitRow, "version">

export const closedRow = (sink: string, updatedAt: number): Written => ({
  sink, status: "closed", context: closedCircuit, lastErrorAt: null, updatedAt
})

/** An open circuit with every column set, so a value that does not round-trip shows. */
export const openRow = (sink: string, updatedAt: number): Written => ({
  sink,
  status: "open",
  context: {
    consecutiveFailures: 5, opens: 2, cooldownMs: 60_000, openedAt: 1_700_000_000_000, probeAt: 1_700_000_060_000,
    probeDeliveryId: null, lastErrorCode: "http_503", lastError: "503 Service Unavailable", reason: "5 failures in a row"
  },
  lastErrorAt: 1_700_000_000_123,
  updatedAt
})

const halfOpenRow = (sink: string, updatedAt: number): Written => ({
  ...openRow(sink, updatedAt), status: "half_open", context: { ...openRow(sink, updatedAt).context, probeDeliveryId: "d-probe" as DeliveryId }
})

const circuitChanges = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ entityId: string; event: string }>`SELECT entity_id AS "entityId", event FROM change_log WHERE entity = 'circuit' ORDER BY seq`)

const bySink = (rows: ReadonlyArray<CircuitRow>) => [...rows].sort((a, b) => a.sink.localeCompare(b.sink))

/** Registers the cases on `storage` with `circuits` built on it (fresh for each test). */
export const circuitStoreContract = <R>(storage: Layer.Layer<Storage | R, unknown>, circuits: Layer.Layer<CircuitStore, unknown, Storage | R>) => {
  const run = <A, E>(body: Effect.Effect<A, E, CircuitStore | Storage | R | Scope.Scope>) => body.pipe(Effect.provide(Layer.provideMerge(circuits, storage)))
  const inWriter = <A, E>(body: Effect.Effect<A, E, CircuitStore>) =>
    Effect.flatMap(Writer, (w) => w.transaction(body))

  it.scoped("a sink never written has no row: of answers an empty map, for no sinks too", () =>
    run(Effect.gen(function* () {
      const store = yield* CircuitStore
      expect((yield* inWriter(store.of([]))).size).toBe(0)
      expect((yield* inWriter(store.of(["nobody", "nothing"]))).size).toBe(0)
      expect(yield* inWriter(store.notClosed)).toEqual([])
      expect(yield* store.all).toEqual([])
    })))

  it.scoped("write inserts at version 1 and each later write of the row adds one; every column round-trips", () =>
    run(Effect.gen(function* () {
      const store = yield* CircuitStore
      yield* inWriter(store.write([openRow("a", 10), halfOpenRow("b", 10), closedRow("c", 10)]))
      const first = yield* inWriter(store.of(["a", "b", "c", "missing"]))
      expect([...first.keys()].sort()).toEqual(["a", "b", "c"])
      expect(first.get("a")).toEqual({ ...openRow("a", 10), version: 1 })
      expect(first.get("b")).toEqual({ ...halfOpenRow("b", 10), version: 1 })
      expect(first.get("c")).toEqual({ ...closedRow("c", 10), version: 1 })
      yield* inWriter(store.write([closedRow("a", 20)]))
      yield* inWriter(store.write([{ ...closedRow("a", 30), lastErrorAt: 25 }]))
      const second = yield* inWriter(store.of(["a", "b"]))
      expect(second.get("a")).toEqual({ ...closedRow("a", 30), lastErrorAt: 25, version: 3 })
      expect(second.get("b")!.version).toBe(1)
      // Only the sinks asked for.
      expect([...(yield* inWriter(store.of(["b"]))).keys()]).toEqual(["b"])
    })))

  it.scoped("notClosed answers the open and half-open circuits only; all answers every row by sink on the reader", () =>
    run(Effect.gen(function* () {
      const store = yield* CircuitStore
      yield* inWriter(store.write([closedRow("z-closed", 1), openRow("m-open", 1), halfOpenRow("b-half", 1), closedRow("a-closed", 1)]))
      expect(bySink(yield* inWriter(store.notClosed)).map((r) => [r.sink, r.status])).toEqual([["b-half", "half_open"], ["m-open", "open"]])
      expect((yield* store.all).map((r) => r.sink)).toEqual(["a-closed", "b-half", "m-open", "z-closed"])
      yield* inWriter(store.write([closedRow("m-open", 2)]))
      expect((yield* inWriter(store.notClosed)).map((r) => r.sink)).toEqual(["b-half"])
    })))

  it.scoped("a write that fails with its transaction leaves no row", () =>
    run(Effect.gen(function* () {
      const store = yield* CircuitStore
      const failed = yield* Effect.flip(inWriter(Effect.zipRight(store.write([openRow("a", 1)]), Effect.fail("rolled back" as const))))
      expect(failed).toBe("rolled back")
      expect(yield* store.all).toEqual([])
    })))

  it.scoped("the change log gets a circuit change when the status changes, not when only the counts do", () =>
    run(Effect.gen(function* () {
      const store = yield* CircuitStore
      yield* inWriter(store.write([closedRow("s", 1)])) // born closed: no change
      yield* inWriter(store.write([{ ...closedRow("s", 2), context: { ...closedCircuit, consecutiveFailures: 1 } }]))
      expect(yield* circuitChanges).toEqual([])
      yield* inWriter(store.write([openRow("s", 3)]))
      yield* inWriter(store.write([{ ...openRow("s", 4), context: { ...openRow("s", 4).context, consecutiveFailures: 6 } }]))
      yield* inWriter(store.write([closedRow("s", 5)]))
      yield* inWriter(store.write([openRow("t", 6)])) // born open: a change
      expect(yield* circuitChanges).toEqual([
        { entityId: "s", event: "open" },
        { entityId: "s", event: "closed" },
        { entityId: "t", event: "open" }
      ])
    })))
}
