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
 * PostgreSQL SQLSTATEs that may pass: a serialization failure or deadlock (retry the
 * transaction), a lost or refused connection (class 08), insufficient resources such as a full
 * disk or too many connections (class 53), an administrator's shutdown or restart (57P01-57P03).
 */
const pgTransient = (code: string) =>
  code === "40001" || code === "40P01" || code.startsWith("08") || code.startsWith("53") || /^57P0[123]$/.test(code)

/**
 * A storage error that may pass if the same write is tried again: the lock, I/O, a full disk,
 * a lost connection. Any other (a constraint, a value the database refuses) fails the same way
 * every time. Knows both engines' codes: SQLite's names, PostgreSQL's five-character SQLSTATEs.
 */
export const isTransientStorageError = (e: unknown) => {
  const code = driverCodeOf(e)
  if (code === undefined) return false
  if (/^[0-9A-Z]{5}$/.test(code)) return pgTransient(code)
  return ["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PROTOCOL"].some((c) => code.startsWith(c))
}

/** A PostgreSQL transaction that lost a race with another (serialization failure, deadlock): run it again. */
export const isPgRetryable = (e: unknown) => {
  const code = driverCodeOf(e)
  return code === "40001" || code === "40P01"
}
