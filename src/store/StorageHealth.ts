/**
 * What /readyz asks of storage: whether the database is writable right now (a write
 * transaction takes the lock), its migration and its room to grow; and the build's migration.
 */
import { Context, Effect, Option } from "effect"
import type { SqlError } from "./errors.js"

export interface StorageHealthShape {
  /** The migration this build brings. */
  readonly buildVersion: number
  /** Takes the write lock (BEGIN IMMEDIATE): the database's migration, and why it cannot grow, if it cannot. */
  readonly writable: Effect.Effect<{ version: number; pages: { pageSize: number; full: Option.Option<string>; }; }, SqlError, never>
  /** Why storage is full (the page limit, or the disk, asked outside any transaction), or none. */
  readonly fullness: (pages: { pageSize: number; full: Option.Option<string>; }) => Effect.Effect<Option.Option<string>, never, never>
}

export class StorageHealth extends Context.Tag("herald/StorageHealth")<StorageHealth, StorageHealthShape>() {}
