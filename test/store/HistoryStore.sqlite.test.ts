/** The HistoryStore contract on SQLite. */
import { sqliteHistoryStore } from "../../src/store/sqlite/HistoryStore.js"
import { sqliteEngine } from "./contract/engines.js"
import { historyStoreContract } from "./contract/HistoryStore.js"

historyStoreContract(sqliteEngine(sqliteHistoryStore))
