/** The NotificationStore contract on PostgreSQL. */
import { pgNotificationStore } from "../../../src/store/pg/NotificationStore.js"
import { pgEngine } from "../contract/engines.js"
import { notificationStoreContract } from "../contract/NotificationStore.js"

notificationStoreContract(pgEngine(pgNotificationStore))
