/**
 * The change feed's read on PostgreSQL: changes after a sequence number, in order, never
 * passing over one that commits later. Rows are written by the triggers of migrations/pg only.
 *
 * Why `seq > last` alone skips: a number is taken when the change row is written, long before
 * its transaction commits. Transaction A takes seq 9, B takes seq 10 and commits first; a reader
 * polling `seq > 8` sees 10 and moves its cursor to 10, and when A commits, 9 is behind the
 * cursor for good. (A plain sequence would skip even with the filter below: A and B each writing
 * several changes interleave their numbers. migrations/pg/0001 derives seq from the writer's
 * transaction id so that every change of an older transaction sorts first.)
 *
 * The fix, as transactional-outbox readers do: read only changes whose transaction is older
 * than the oldest one still running that could write to this database's change_log. Every
 * such transaction has ended, so what this snapshot sees of them is all they will ever write,
 * and every transaction still able to add a change has a larger xid, hence larger numbers than
 * anything returned: the cursor never passes a change that can still appear. The price is
 * latency: a change shows once every transaction older than its own has ended, so a long
 * transaction in this database that has written anything (or holds an xid) delays the feed
 * until it ends.
 *
 * Why not `pg_snapshot_xmin(pg_current_snapshot())`: transaction ids are the whole server's, so
 * that horizon is held back by a transaction in any database of the server (another
 * application's, a migration, a test next door), though none of them can write here. The
 * horizon below starts from the same snapshot and leaves out the running ids that
 * `pg_stat_activity` shows belong to a backend connected to another database (a backend never
 * changes database, so that attribution cannot be wrong about the id it names). Whatever it
 * cannot attribute (a prepared transaction, a backend of a role whose activity Herald's role may
 * not read, an id taken after the activity was read) still holds the horizon: an unknown is
 * treated as a writer here, never skipped. The snapshot's xmax bounds it: ids from there on
 * had not ended when the snapshot was taken.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * The oldest transaction id of this statement's snapshot still running in this database (or
 * not attributable to another one), else the snapshot's xmax: one scalar per statement.
 */
export const feedHorizon = `(SELECT LEAST(pg_snapshot_xmax(s), (
    SELECT min(x) FROM pg_snapshot_xip(s) AS x
    WHERE x::xid NOT IN (
      SELECT a.backend_xid FROM pg_stat_activity AS a
      WHERE a.backend_xid IS NOT NULL AND a.datname IS DISTINCT FROM current_database())))
  FROM pg_current_snapshot() AS s)`

/**
 * The horizon as a condition on `change_log.xid`: the change's transaction is older than the
 * oldest one still running here, so it has ended and nothing can commit before it any more.
 * Every read that tells a reader how far it may move (rows, the newest number) applies it.
 */
export const belowHorizon = `xid < ${feedHorizon}`

export interface ChangeRow {
  readonly seq: number
  readonly entity: string
  readonly entityId: string
  readonly event: string
  /** The trigger's jsonb payload, parsed. */
  readonly payload: unknown
  readonly createdAt: number
}

/**
 * Changes after `seq` (and before `until`, when given), in seq order, at most `limit`, all of
 * them from transactions that have ended (a primary key range scan; the key carries `xid`). Run
 * it on its own, never inside a transaction that has written: that transaction's own xid holds
 * the horizon, so it would read nothing of its own changes or any newer one.
 */
export const changesAfter = Effect.fn("PgChangeFeed.changesAfter")(function* (seq: number, limit: number, until?: number) {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<ChangeRow>`
    SELECT seq, entity, entity_id AS "entityId", event, payload, created_at AS "createdAt"
    FROM change_log
    WHERE seq > ${seq} ${until !== undefined ? sql`AND seq < ${until}` : sql``} AND ${sql.literal(belowHorizon)}
    ORDER BY seq
    LIMIT ${limit}`
})
