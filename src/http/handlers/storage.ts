/**
 * Small shared pieces of the handlers: storage failures (SqlError) become defects, which the
 * edge answers by what they are (a full disk, a lock or I/O to retry, or a bug); query
 * filters drop absent keys.
 */
import { Effect } from "effect"
import { isTransientStorageError } from "../../store/Writer.js"
import { problemBody, respond } from "../Problem.js"

type WithoutSql<E> = Exclude<E, { readonly _tag: "SqlError" }>

export const storageAsDefect = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, WithoutSql<E>, R> =>
  Effect.catchIf(effect, (e): e is Extract<E, { readonly _tag: "SqlError" }> => (e as { _tag?: unknown })._tag === "SqlError", Effect.die) as Effect.Effect<A, WithoutSql<E>, R>

const sqliteCode = (e: unknown) => {
  const code = ((e as { cause?: { code?: unknown } } | null)?.cause)?.code
  return typeof code === "string" ? code : undefined
}

/**
 * The answer to an SqlError that reached the edge. Retry-After only where a retry can pass:
 * a full disk once space is freed, a lock or I/O error soon; a statement the database refuses
 * (a constraint) fails the same way every time, a bug the input checks missed: 500.
 */
export const storageProblem = (error: unknown) => {
  if (sqliteCode(error)?.startsWith("SQLITE_FULL") === true) {
    return respond(problemBody(503, "Storage full", "storage_full",
      "the disk holding Herald's database is full: free disk space (or move HERALD_DB to a larger disk); writes resume once there is room"),
      { "retry-after": "30" })
  }
  if (isTransientStorageError(error)) {
    return respond(problemBody(503, "Storage unavailable", "StorageUnavailable", "the database is busy or unavailable; retry"), { "retry-after": "1" })
  }
  return respond(problemBody(500, "Internal error", "InternalError", "an unexpected error; it was logged"))
}

/** The object without its undefined entries (Herald's filters decode strictly). */
export const defined = <T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> }
