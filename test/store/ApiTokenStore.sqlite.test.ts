/** The ApiTokenStore contract on SQLite. */
import { describe } from "@effect/vitest"
import { sqlApiTokenStore } from "../../src/store/sql/ApiTokenStore.js"
import { apiTokenStoreContract } from "./contract/ApiTokenStore.js"
import { sqliteStorage } from "./contract/engines.js"

describe("ApiTokenStore on SQLite", () => {
  apiTokenStoreContract(sqliteStorage, sqlApiTokenStore)
})
