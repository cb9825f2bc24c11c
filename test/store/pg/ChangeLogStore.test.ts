/** The ChangeLogStore contract on PostgreSQL. */
import { pgChangeLogStore } from "../../../src/store/pg/ChangeLogStore.js"
import { changeLogStoreContract } from "../contract/ChangeLogStore.js"
import { pgEngine } from "../contract/engines.js"

changeLogStoreContract(pgEngine(pgChangeLogStore))
