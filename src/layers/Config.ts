/** The daemon's environment, read once with Effect Config: a bad value fails at boot naming the variable. */
import { Config } from "effect"
import * as fs from "node:fs"

const isDirectory = (p: string) => {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

export const DaemonConfig = Config.all({
  database: Config.string("HERALD_DB").pipe(Config.withDefault("./herald.db")),
  sync: Config.literal("NORMAL", "FULL")("HERALD_SYNC").pipe(Config.withDefault("NORMAL" as const)),
  changeRetentionHours: Config.number("HERALD_CHANGE_RETENTION_HOURS").pipe(
    Config.validate({ message: "must be a number of hours greater than 0", validation: (h) => h > 0 }),
    Config.withDefault(168)
  ),
  maxQueuedEnqueues: Config.integer("HERALD_MAX_QUEUED_ENQUEUES").pipe(
    Config.validate({ message: "must be a whole number of notifications, at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(10_000)
  ),
  historyRetentionDays: Config.number("HERALD_HISTORY_RETENTION_DAYS").pipe(
    // At least a day: an Idempotency-Key binds for 24 h, and a retry must find its notification.
    Config.validate({ message: "must be 0 (keep for ever) or a number of days, at least 1", validation: (d) => d === 0 || (d >= 1 && Number.isFinite(d)) }),
    Config.withDefault(30)
  ),
  // Unset: log sinks write to stdout only. A path in settings is a file the daemon appends to,
  // and anyone with the API token edits settings: only files in this directory are allowed.
  logDir: Config.string("HERALD_LOG_DIR").pipe(
    Config.validate({ message: "must be an existing directory", validation: isDirectory }),
    Config.option
  )
})
