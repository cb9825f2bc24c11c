/** The ChangeLogStore contract on SQLite. */
import { sqliteChangeLogStore } from "../../src/store/sqlite/ChangeLogStore.js"
import { changeLogStoreContract } from "./contract/ChangeLogStore.js"
import { sqliteEngine } from "./contract/engines.js"

changeLogStoreContract(sqliteEngine(sqliteChangeLogStore))
