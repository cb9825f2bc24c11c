/** The IdempotencyStore contract on PostgreSQL. */
import { describe } from "@effect/vitest"
import { pgIdempotencyStore } from "../../../src/store/pg/IdempotencyStore.js"
import { idempotencyStoreContract } from "../contract/IdempotencyStore.js"
import { pgStorage } from "../contract/engines.js"

describe("IdempotencyStore on PostgreSQL", () => {
  idempotencyStoreContract(pgStorage, pgIdempotencyStore)
})
