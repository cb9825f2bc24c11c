/** The NotificationStore contract on SQLite. */
import { sqliteNotificationStore } from "../../src/store/sqlite/NotificationStore.js"
import { sqliteEngine } from "./contract/feedStorage.js"
import { notificationStoreContract } from "./contract/NotificationStore.js"

notificationStoreContract(sqliteEngine(sqliteNotificationStore))
