/** The SettingsStore contract on SQLite. */
import { describe } from "@effect/vitest"
import { sqliteSettingsStore } from "../../src/store/sqlite/SettingsStore.js"
import { settingsStoreContract } from "./contract/SettingsStore.js"
import { sqliteStorage } from "./contract/engines.js"

describe("SettingsStore on SQLite", () => {
  settingsStoreContract(sqliteStorage, sqliteSettingsStore)
})
