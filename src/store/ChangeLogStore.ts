/** Reads of change_log and the consumers' stored offsets. Rows are written by triggers only. */
import { Context, Effect } from "effect"
import { ChangeEvent } from "../domain/ChangeEvent.js"
import type { SqlError } from "./errors.js"

export interface OffsetRow {
  readonly consumer: string
  readonly seq: number
  readonly updatedAt: number
}

/** A page of the feed, and how far retention had deleted when it was read. */
export interface FeedPage {
  readonly rows: ReadonlyArray<ChangeEvent>
  readonly prunedThrough: number
}

export interface ChangeLogStoreShape {
  /** Changes after `seq`, in order, at most `limit` (primary key range scan). */
  readonly after: (seq: number, limit: number, until?: number) => Effect.Effect<ChangeEvent[], SqlError, never>
  /**
   * A page of the feed for a reader that must be told when retention deleted changes it had
   * not read: the rows of `after`, and `prunedThrough` (as in `bounds`) read in the same
   * snapshot, so a prune that commits between two pages is seen by the next one.
   */
  readonly page: (seq: number, limit: number, until?: number) => Effect.Effect<FeedPage, SqlError, never>
  /** Without reading rows: the newest sequence after `seq`, and whether settings changed there. */
  readonly summaryAfter: (seq: number) => Effect.Effect<{ newest: number | null; settings: number | null; }, SqlError, never>
  /**
   * The oldest and newest change, and `prunedThrough`: every change numbered up to it was
   * deleted by retention (0 when none was). A reader whose last change is below it missed some.
   */
  readonly bounds: Effect.Effect<{ oldest: number | null; newest: number | null; prunedThrough: number }, SqlError>
  /**
   * Whether sequence numbers have no holes but the ones retention cuts (SQLite's AUTOINCREMENT):
   * then a hole in a range read means rows were pruned under the reader. PostgreSQL's are not
   * dense (they carry the writer's transaction id).
   */
  readonly denseSeq: boolean
  /**
   * How many changes after `seq` a reader has still to read, up to the newest one (a durable
   * consumer's lag). Numbers with holes (PostgreSQL) are counted, not subtracted.
   */
  readonly countAfter: (seq: number) => Effect.Effect<number, SqlError, never>
  readonly offset: (consumer: string) => Effect.Effect<number, SqlError, never>
  /**
   * Inside the caller's write transaction: sets the runtime's own offset (backwards too). Where
   * several processes write at once (PostgreSQL), a save that meets another transaction saving
   * the same consumer is skipped rather than waiting for it.
   */
  readonly saveOffset: (consumer: string, seq: number, now: number) => Effect.Effect<void, SqlError, never>
  /** Every stored offset, the runtime's own included, by name (primary key order). */
  readonly offsets: Effect.Effect<ReadonlyArray<OffsetRow>, SqlError>
  readonly offsetRow: (consumer: string) => Effect.Effect<OffsetRow, SqlError, never>
  /** Inside the caller's write transaction: moves `consumer` to `seq` unless it has committed further (one statement, so two commits can never interleave); returns whether it moved and the offset it has now. */
  readonly commitOffset: (consumer: string, seq: number, now: number) => Effect.Effect<{ moved: boolean; seq: number; }, SqlError, never>
  /** Inside the caller's write transaction; whether there was one. */
  readonly deleteOffset: (consumer: string) => Effect.Effect<boolean, SqlError, never>
  /** Retention, inside the caller's write transaction: deletes the oldest changes made before `before`, at most `limit`, never past `upTo` (what every in-process reader has read) and never the newest row, so sequence numbers keep growing. Walks from the oldest row and stops at the first one that is kept. Returns how many it deleted. */
  readonly prune: (before: number, upTo: number, limit: number) => Effect.Effect<number, SqlError, never>
  /** Settled attempts in (`seq`, `upTo`] (deliveries leaving `leased`) and notifications created, for counters that catch up at scrape time: one indexed range read instead of a subscription that handles every change as it happens. */
  /**
   * Deliveries that gave up in (`seq`, `upTo`]: went `dead`, or were created `skipped`; one
   * indexed range read, for a watcher that polls instead of following every change.
   */
  readonly gaveUpAfter: (seq: number, upTo: number) => Effect.Effect<ReadonlyArray<{ seq: number; deliveryId: string; notificationId: string }>, SqlError>
  readonly countablesAfter: (seq: number, upTo: number) => Effect.Effect<ReadonlyArray<{ seq: number; entity: string; entityId: string; event: string; sink: string | null; errorCode: string | null; createdAt: number; }>, SqlError>
}

export class ChangeLogStore extends Context.Tag("herald/ChangeLogStore")<ChangeLogStore, ChangeLogStoreShape>() {}
