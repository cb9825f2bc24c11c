/**
 * The Writer contract, for every engine: a transaction an embedder opens through Herald's own
 * SqlClient is the writer's too, so Herald's writes inside it are savepoints that commit or roll
 * back with it (what lets an embedder enqueue in its own transaction).
 */
import { SqlClient } from "@effect/sql"
import { expect, it } from "@effect/vitest"
import { Effect, type Layer, type Scope } from "effect"
import { Writer } from "../../../src/store/Writer.js"
import type { Storage } from "./engines.js"

export const writerContract = (storage: Layer.Layer<Storage, unknown>) => {
  const run = <A, E>(body: Effect.Effect<A, E, Storage | Scope.Scope>) => Effect.provide(body, storage)

  it.scoped("a transaction an embedder opens on the writer's SqlClient is the writer's own: inTransaction says so", () =>
    run(Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const writer = yield* Writer
      expect(yield* writer.inTransaction).toBe(false)
      expect(yield* sql.withTransaction(writer.inTransaction)).toBe(true)
      expect(yield* writer.transaction(writer.inTransaction)).toBe(true)
    })))

  it.scoped("the writer's transactions inside an embedder's transaction on its SqlClient roll back and commit with it", () =>
    run(Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const writer = yield* Writer
      yield* sql`CREATE TABLE scratch (id TEXT PRIMARY KEY)`
      const failed = yield* Effect.flip(sql.withTransaction(Effect.gen(function* () {
        yield* writer.transaction(sql`INSERT INTO scratch (id) VALUES ('rolled back')`)
        return yield* Effect.fail("the embedder's own failure" as const)
      })))
      expect(failed).toBe("the embedder's own failure")
      yield* sql.withTransaction(writer.transaction(sql`INSERT INTO scratch (id) VALUES ('committed')`))
      expect(yield* sql`SELECT id FROM scratch`).toEqual([{ id: "committed" }])
    })))
}
