/** The ApiTokenStore contract on PostgreSQL. */
import { describe } from "@effect/vitest"
import { pgApiTokenStore } from "../../../src/store/pg/ApiTokenStore.js"
import { apiTokenStoreContract } from "../contract/ApiTokenStore.js"
import { pgStorage } from "../contract/engines.js"

describe("ApiTokenStore on PostgreSQL", () => {
  apiTokenStoreContract(pgStorage, pgApiTokenStore)
})
