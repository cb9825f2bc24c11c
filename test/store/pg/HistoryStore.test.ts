/** The HistoryStore contract on PostgreSQL. */
import { pgHistoryStore } from "../../../src/store/pg/HistoryStore.js"
import { pgEngine } from "../contract/feedStorage.js"
import { historyStoreContract } from "../contract/HistoryStore.js"

historyStoreContract(pgEngine(pgHistoryStore))
