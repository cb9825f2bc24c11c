/** The NotificationStore contract on SQLite. */
import { sqliteNotificationStore } from "../../src/store/sqlite/NotificationStore.js"
import { sqliteEngine } from "./contract/engines.js"
import { notificationStoreContract } from "./contract/NotificationStore.js"

notificationStoreContract(sqliteEngine(sqliteNotificationStore))
