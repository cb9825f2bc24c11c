/** The StorageHealth contract on SQLite. */
import { describe } from "@effect/vitest"
import { sqliteStorageHealth } from "../../src/store/sqlite/StorageHealth.js"
import { storageHealthContract } from "./contract/StorageHealth.js"
import { sqliteStorage } from "./contract/engines.js"

describe("StorageHealth on SQLite", () => {
  storageHealthContract(sqliteStorage, sqliteStorageHealth)
})
