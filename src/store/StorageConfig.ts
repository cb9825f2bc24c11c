/** Where a runtime keeps its state: a SQLite file, or a PostgreSQL database as a URL. */
import type { SyncMode } from "./sqlite/Sqlite.js"

export interface StorageConfig {
  readonly database: string
  /** SQLite only: how hard each commit is made durable. */
  readonly sync?: SyncMode | undefined
}

/** Whether `database` names a PostgreSQL database rather than a SQLite file. */
export const isPostgresUrl = (database: string) => /^postgres(ql)?:\/\//i.test(database)

/** The database as it may be printed: a SQLite path as it is, a URL with its password masked. */
export const maskedDatabase = (database: string) => database.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, "$1***@")
