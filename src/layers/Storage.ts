/**
 * The storage a Herald runtime runs on, chosen by its `database`: a SQLite file (the default),
 * or a PostgreSQL URL. Either way the layer migrates the database and provides the same store
 * tags (src/store), the Writer and the reader.
 */
import { Layer } from "effect"
import { sqliteApiTokenStore } from "../store/sqlite/ApiTokenStore.js"
import { sqliteChangeLogStore } from "../store/sqlite/ChangeLogStore.js"
import { sqliteCircuitStore } from "../store/sqlite/CircuitStore.js"
import { sqliteDeliveryStore } from "../store/sqlite/DeliveryStore.js"
import { sqliteHistoryStore } from "../store/sqlite/HistoryStore.js"
import { sqliteIdempotencyStore } from "../store/sqlite/IdempotencyStore.js"
import { migrate } from "../store/sqlite/Migrations.js"
import { sqliteNotificationStore } from "../store/sqlite/NotificationStore.js"
import { sqliteSettingsStore } from "../store/sqlite/SettingsStore.js"
import { readerLayer, type SyncMode, writerLayer } from "../store/sqlite/Sqlite.js"
import { sqliteStorageHealth } from "../store/sqlite/StorageHealth.js"
import { sqliteWriter } from "../store/sqlite/Writer.js"

export interface StorageConfig {
  readonly database: string
  readonly sync?: SyncMode | undefined
}

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
    sqliteApiTokenStore,
    sqliteIdempotencyStore,
    sqliteStorageHealth
  ).pipe(Layer.provideMerge(writer))
}

/** Whether `database` names a PostgreSQL database rather than a SQLite file. */
export const isPostgresUrl = (database: string) => /^postgres(ql)?:\/\//i.test(database)

export const storageLayer = (config: StorageConfig) => sqliteStorage(config)
