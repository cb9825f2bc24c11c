/**
 * Whether the database has room to grow: SQLite's own page limit, and free space on the disk
 * that holds it. Read-only and cheap (four pragmas, one statfs), for /readyz; writes report a
 * full disk themselves, as SQLITE_FULL.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Below this many pages free on the disk the next checkpoint cycle may not fit: in WAL mode
 * SQLite writes up to 1,000 pages (its default wal_autocheckpoint) before copying them back.
 */
const reservePages = 1_000

/**
 * On the writer (max_page_count is a setting of the connection, not of the file): why the
 * database cannot grow past its page limit, or none, and its page size.
 */
export const pageLimit = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [pages] = yield* sql<{ page_count: number; freelist_count: number; max_page_count: number; page_size: number }>`
    SELECT * FROM pragma_page_count(), pragma_freelist_count(), pragma_max_page_count(), pragma_page_size()`
  const full = pages !== undefined && pages.freelist_count === 0 && pages.page_count >= pages.max_page_count
  return {
    pageSize: pages?.page_size ?? 4_096,
    full: full ? Option.some(`the database has reached its page limit (max_page_count, ${pages.max_page_count} pages)`) : Option.none<string>()
  }
})

/** Why the disk holding `filename` is full, or none. A platform without statfs answers none. */
export const diskFull = (filename: string, pageSize: number) =>
  Effect.tryPromise(() => fs.promises.statfs(path.dirname(path.resolve(filename)))).pipe(
    Effect.option,
    Effect.map(Option.flatMap((disk) => {
      const free = disk.bavail * disk.bsize
      return free < reservePages * pageSize ? Option.some(`the disk holding the database has ${free} bytes free`) : Option.none()
    }))
  )
