/** SQLite storage: the writer and reader connections on one file, migrated, and the SQLite stores. */
import { Layer } from "effect"
import { sqlApiTokenStore } from "../sql/ApiTokenStore.js"
import { sqliteSessionStore } from "../sql/SessionStore.js"
import { sqliteChangeLogStore } from "./ChangeLogStore.js"
import { sqliteCircuitStore } from "./CircuitStore.js"
import { sqliteDeliveryStore } from "./DeliveryStore.js"
import { sqliteHistoryStore } from "./HistoryStore.js"
import { sqliteIdempotencyStore } from "./IdempotencyStore.js"
import { migrate } from "./Migrations.js"
import { sqliteNotificationStore } from "./NotificationStore.js"
import { sqliteSettingsStore } from "./SettingsStore.js"
import { readerLayer, writerLayer } from "./Sqlite.js"
import { sqliteStorageHealth } from "./StorageHealth.js"
import { sqliteWriter } from "./Writer.js"
import type { StorageConfig } from "../StorageConfig.js"

/** SQLite on `filename`: its writer and reader connections, migrated, and the SQLite stores. */
export const sqliteStorage = (config: StorageConfig) => {
  const connections = readerLayer.pipe(
    Layer.provideMerge(Layer.effectDiscard(migrate()).pipe(Layer.provideMerge(writerLayer({ filename: config.database, sync: config.sync }))))
  )
  const writer = sqliteWriter.pipe(Layer.provideMerge(connections))
  return Layer.mergeAll(
    sqliteSettingsStore,
    sqliteNotificationStore,
    sqliteDeliveryStore,
    sqliteChangeLogStore,
    sqliteHistoryStore,
    sqliteCircuitStore,
    sqlApiTokenStore,
    sqliteIdempotencyStore,
    sqliteSessionStore,
    sqliteStorageHealth
  ).pipe(Layer.provideMerge(writer))
}

