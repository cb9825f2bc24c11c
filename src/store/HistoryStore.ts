/**
 * Finished history in SQLite: notifications whose every delivery is over (sent, skipped or
 * cancelled), with their deliveries and attempt rows. SQL only here; HistoryRetention decides when.
 */
import { Context, Effect } from "effect"
import type { SqlError } from "./errors.js"

/** What one sweep step examined and removed. */
export interface SweepStep {
  /** Notifications deleted (with their deliveries and attempts). */
  readonly deleted: number
  /** The last notification id examined: the next step starts after it. */
  readonly cursor: string
  /** The step reached notifications too recent to delete (or the end): the sweep is over. */
  readonly done: boolean
}

export interface HistoryStoreShape {
  /** One step of a sweep in id order (ids grow with time): examines at most `limit` notifications after `cursor`, stops at the first created at or after `before`, and deletes those that were routed and whose deliveries were all over before `before`. A notification with a dead, waiting or leased delivery is kept, and so is one that finished since (a dead letter requeued and sent lately). Runs inside the caller's write transaction. Stopping at the first recent id assumes ids grow with creation time: after the clock of a process stepped back, its later ids run ahead of their time and are swept a little late, never early. */
  readonly sweep: (cursor: string, before: number, limit: number) => Effect.Effect<{ deleted: number; cursor: string; done: boolean; }, SqlError, never>
}

export class HistoryStore extends Context.Tag("herald/HistoryStore")<HistoryStore, HistoryStoreShape>() {}
