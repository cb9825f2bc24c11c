/** The SessionStore contract on SQLite. */
import { sqliteSessionStore } from "../../src/store/sql/SessionStore.js"
import { sqliteEngine } from "./contract/engines.js"
import { sessionStoreContract } from "./contract/SessionStore.js"

sessionStoreContract(sqliteEngine(sqliteSessionStore))
