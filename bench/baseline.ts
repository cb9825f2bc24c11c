/**
 * The raw baselines: the row writes Herald makes per delivery, done by plain better-sqlite3
 * prepared statements in transactions of 500, with no Effect and no JavaScript logic.
 * - `claim`: a delivery waits and is claimed (notification insert, pending delivery insert,
 *   claim update, sent update, attempt insert, and the four change_log rows of the triggers).
 * - `handoff`: the fewest writes Herald's contract allows, its direct hand-off (the delivery is
 *   created leased: no claim update and one change_log row less). This is the ceiling of any
 *   end-to-end figure on this machine.
 */
import Database from "better-sqlite3"
import { readMigrations } from "../src/layers/Migrations.js"

export type RawPath = "claim" | "handoff"

export const rawDeliveriesPerSecond = (file: string, n: number, path: RawPath = "claim"): number => {
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("foreign_keys = ON")
  for (const f of readMigrations()) for (const s of f.statements) db.exec(s)
  const insN = db.prepare(`INSERT INTO notifications (id, kind, priority, title, body, payload, created_at, routed_at)
                           VALUES (?, 'bench', 'normal', ?, '', '{}', ?, ?)`)
  const insPending = db.prepare(`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, next_attempt_at, created_at, updated_at)
                                 VALUES (?, ?, 'mem', 'pending', 5, ?, ?, ?)`)
  const insLeased = db.prepare(`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, lease_owner, lease_expires_at,
                                                        version, created_at, updated_at)
                                VALUES (?, ?, 'mem', 'leased', 5, 'raw', ?, 1, ?, ?)`)
  const claim = db.prepare(`UPDATE deliveries SET status = 'leased', lease_owner = 'raw', lease_expires_at = ?, next_attempt_at = NULL,
                            version = version + 1, updated_at = ? WHERE id = ? AND version = 0`)
  const sent = db.prepare(`UPDATE deliveries SET status = 'sent', attempts = 1, lease_owner = NULL, lease_expires_at = NULL,
                           version = version + 1, updated_at = ? WHERE id = ? AND version = 1 AND lease_owner = 'raw'`)
  const attempt = db.prepare(`INSERT INTO delivery_attempts (delivery_id, attempt, outcome, lease_owner, started_at, finished_at, duration_ms)
                              VALUES (?, 1, 'sent', 'raw', ?, ?, 0)`)
  const batch = 500
  // Ids shaped like Herald's (a prefix and 26 characters, increasing), so the B-trees see the same keys.
  const idOf = (prefix: string, k: number) => `${prefix}_01JZZZZZZZZZZZ${String(1e11 + k)}`
  const started = performance.now()
  for (let i = 0; i < n; i += batch) {
    const now = Date.now()
    const ids = Array.from({ length: Math.min(batch, n - i) }, (_, j) => i + j)
    db.transaction(() => {
      for (const k of ids) {
        insN.run(idOf("ntf", k), `t${k}`, now, now)
        if (path === "handoff") insLeased.run(idOf("dlv", k), idOf("ntf", k), now + 30_000, now, now)
        else insPending.run(idOf("dlv", k), idOf("ntf", k), now, now, now)
      }
    })()
    if (path === "claim") db.transaction(() => { for (const k of ids) claim.run(now + 30_000, now, idOf("dlv", k)) })()
    db.transaction(() => {
      for (const k of ids) {
        sent.run(now, idOf("dlv", k))
        attempt.run(idOf("dlv", k), now, now)
      }
    })()
  }
  const seconds = (performance.now() - started) / 1000
  db.close()
  return n / seconds
}
