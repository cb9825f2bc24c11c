/** The SessionStore contract on PostgreSQL. */
import { pgSessionStore } from "../../../src/store/sql/SessionStore.js"
import { pgEngine } from "../contract/engines.js"
import { sessionStoreContract } from "../contract/SessionStore.js"

sessionStoreContract(pgEngine(pgSessionStore))
