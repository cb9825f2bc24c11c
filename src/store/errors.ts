/**
 * Storage errors as the rest of Herald sees them: @effect/sql's engine-neutral SqlError (named
 * here, so nothing outside src/store imports @effect/sql), and which of them may pass.
 */
import type { SqlError } from "@effect/sql/SqlError"

export type { SqlError }

/** The driver's error code of a storage error (SQLite's `SQLITE_BUSY`, ...), if it has one. */
export const driverCodeOf = (e: unknown) => {
  if ((e as { _tag?: unknown } | null)?._tag !== "SqlError") return undefined
  const code = ((e as SqlError).cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

/**
 * A storage error that may pass if the same write is tried again: the lock, I/O, a full disk.
 * Any other (a constraint, a value the database refuses) fails the same way every time.
 */
export const isTransientStorageError = (e: unknown) => {
  const code = driverCodeOf(e)
  return code !== undefined && ["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PROTOCOL"]
    .some((c) => code.startsWith(c))
}
