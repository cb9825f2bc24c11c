/**
 * PostgreSQL storage: a connection pool on the database URL, migrated (once, under an advisory
 * lock, whichever process starts first), the PostgreSQL stores, and the upkeep PostgreSQL needs
 * beside them (folding the delivery counts' deltas).
 */
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Layer } from "effect"
import { runForever } from "../../lib/loops.js"
import { ReadSql } from "../ReadSql.js"
import type { StorageConfig } from "../StorageConfig.js"
import { sqlApiTokenStore } from "../sql/ApiTokenStore.js"
import { pgSessionStore } from "../sql/SessionStore.js"
import { pgChangeLogStore } from "./ChangeLogStore.js"
import { pgCircuitStore } from "./CircuitStore.js"
import { pgClientLayer } from "./client.js"
import { pgDeliveryStore } from "./DeliveryStore.js"
import { pgHistoryStore } from "./HistoryStore.js"
import { pgIdempotencyStore } from "./IdempotencyStore.js"
import { migratePg } from "./migrate.js"
import { pgNotificationStore } from "./NotificationStore.js"
import { pgSettingsStore } from "./SettingsStore.js"
import { pgStorageHealth } from "./StorageHealth.js"
import { pgWriter } from "./Writer.js"

/**
 * Every 5 s, the delivery counts' +1/-1 rows are folded into one per key (safe from any process
 * at any time). Each delivery adds about five rows and stats() sums them all: folded once a
 * minute, a process sending 8,000 a second left two million rows, and stats() (every /metrics
 * scrape, the dashboard each second) cost ~10 ms per 100,000 of them.
 */
const compactCounts = Layer.scopedDiscard(Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* runForever(Effect.zipRight(Effect.sleep(Duration.seconds(5)), sql`SELECT delivery_counts_compact()`), "compacting delivery counts").pipe(Effect.forkScoped)
}))

export const pgStorage = (config: StorageConfig) => {
  const client = pgClientLayer({ url: config.database })
  const migrated = Layer.effectDiscard(migratePg()).pipe(Layer.provideMerge(client))
  const reader = Layer.effect(ReadSql, SqlClient.SqlClient).pipe(Layer.provideMerge(migrated))
  const writer = pgWriter.pipe(Layer.provideMerge(reader))
  return Layer.mergeAll(
    pgSettingsStore,
    pgNotificationStore,
    pgDeliveryStore,
    pgChangeLogStore,
    pgHistoryStore,
    pgCircuitStore,
    sqlApiTokenStore,
    pgIdempotencyStore,
    pgSessionStore,
    pgStorageHealth,
    compactCounts
  ).pipe(Layer.provideMerge(writer))
}
