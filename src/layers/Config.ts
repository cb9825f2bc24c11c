/**
 * The daemon's environment, read once with Effect Config: a bad value fails at boot with one line
 * naming the variable, the rule it broke and what it got. The HTTP variables are HttpOptions.ts's.
 */
import { Config } from "effect"
import * as fs from "node:fs"
import { envVar, integerVar, literalVar, numberVar, textVar } from "../lib/envVar.js"
import { isPostgresUrl, maskedDatabase } from "../store/StorageConfig.js"

const isDirectory = (p: string) => {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

export const DaemonConfig = Config.all({
  database: textVar("HERALD_DB", "a path to the SQLite file").pipe(Config.withDefault("./herald.db")),
  // Set: PostgreSQL at this URL, shared by every process pointed at it; HERALD_DB is not used.
  databaseUrl: envVar("HERALD_DATABASE_URL", "a postgres:// or postgresql:// URL", (raw) => {
    if (!isPostgresUrl(raw)) return undefined
    try {
      return new URL(raw).hostname !== "" ? raw : undefined
    } catch {
      return undefined
    }
  }, (raw) => JSON.stringify(maskedDatabase(raw))).pipe(Config.option),
  sync: literalVar("HERALD_SYNC", ["NORMAL", "FULL"] as const).pipe(Config.withDefault("NORMAL" as const)),
  changeRetentionHours: numberVar("HERALD_CHANGE_RETENTION_HOURS", "a number of hours greater than 0", (h) => h > 0).pipe(
    Config.withDefault(168)
  ),
  maxQueuedEnqueues: integerVar("HERALD_MAX_QUEUED_ENQUEUES", "a whole number of notifications, at least 1", (n) => n >= 1).pipe(
    Config.withDefault(10_000)
  ),
  // At least a day: an Idempotency-Key binds for 24 h, and a retry must find its notification.
  historyRetentionDays: numberVar("HERALD_HISTORY_RETENTION_DAYS", "0 (keep for ever) or a number of days, at least 1", (d) => d === 0 || d >= 1).pipe(
    Config.withDefault(30)
  ),
  // Unset: log sinks write to stdout only. A path in settings is a file the daemon appends to,
  // and anyone with the API token edits settings: only files in this directory are allowed.
  logDir: envVar("HERALD_LOG_DIR", "an existing directory", (raw) => (raw !== "" && isDirectory(raw) ? raw : undefined)).pipe(Config.option)
})
