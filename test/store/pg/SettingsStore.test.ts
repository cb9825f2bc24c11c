/** The SettingsStore contract on PostgreSQL. */
import { describe } from "@effect/vitest"
import { pgSettingsStore } from "../../../src/store/pg/SettingsStore.js"
import { settingsStoreContract } from "../contract/SettingsStore.js"
import { pgStorage } from "../contract/engines.js"

describe("SettingsStore on PostgreSQL", () => {
  settingsStoreContract(pgStorage, pgSettingsStore)
})
