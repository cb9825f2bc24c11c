/** The HistoryStore contract on PostgreSQL. */
import { pgHistoryStore } from "../../../src/store/pg/HistoryStore.js"
import { pgEngine } from "../contract/engines.js"
import { historyStoreContract } from "../contract/HistoryStore.js"

historyStoreContract(pgEngine(pgHistoryStore))
