/** The ApiTokenStore contract on PostgreSQL. */
import { describe } from "@effect/vitest"
import { sqlApiTokenStore } from "../../../src/store/sql/ApiTokenStore.js"
import { apiTokenStoreContract } from "../contract/ApiTokenStore.js"
import { pgStorage } from "../contract/engines.js"

describe("ApiTokenStore on PostgreSQL", () => {
  apiTokenStoreContract(pgStorage, sqlApiTokenStore)
})
