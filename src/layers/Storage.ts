/**
 * The storage a Herald runtime runs on, chosen by its `database`: a SQLite file (the default),
 * or a PostgreSQL URL. Either way the layer migrates the database and provides the same store
 * tags (src/store), the Writer and the reader.
 */
import { pgStorage } from "../store/pg/storage.js"
import { sqliteStorage } from "../store/sqlite/storage.js"
import { isPostgresUrl, type StorageConfig } from "../store/StorageConfig.js"

export const storageLayer = (config: StorageConfig) => (isPostgresUrl(config.database) ? pgStorage(config) : sqliteStorage(config))
