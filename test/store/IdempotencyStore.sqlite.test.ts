/** The IdempotencyStore contract on SQLite. */
import { describe } from "@effect/vitest"
import { sqliteIdempotencyStore } from "../../src/store/sqlite/IdempotencyStore.js"
import { idempotencyStoreContract } from "./contract/IdempotencyStore.js"
import { sqliteStorage } from "./contract/engines.js"

describe("IdempotencyStore on SQLite", () => {
  idempotencyStoreContract(sqliteStorage, sqliteIdempotencyStore)
})
