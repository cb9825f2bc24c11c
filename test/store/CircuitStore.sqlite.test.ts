/** The CircuitStore contract on SQLite. */
import { describe } from "@effect/vitest"
import { sqliteCircuitStore } from "../../src/store/sqlite/CircuitStore.js"
import { circuitStoreContract } from "./contract/CircuitStore.js"
import { sqliteStorage } from "./contract/engines.js"

describe("CircuitStore on SQLite", () => {
  circuitStoreContract(sqliteStorage, sqliteCircuitStore)
})
