/**
 * The raw baseline: the same row writes Herald makes per delivery (notification insert,
 * delivery insert, claim update, sent update, attempt insert, and the change_log rows their
 * triggers write), done by plain better-sqlite3 prepared statements in transactions of 500.
 */
import Database from "better-sqlite3"
import { readMigrations } from "../src/layers/Migrations.js"

export const rawDeliveriesPerSecond = (file: string, n: number): number => {
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("foreign_keys = ON")
  for (const f of readMigrations()) for (const s of f.statements) db.exec(s)
  const insN = db.prepare(`INSERT INTO notifications (id, kind, priority, title, body, payload, created_at, routed_at)
                           VALUES (?, 'bench', 'normal', ?, '', '{}', ?, ?)`)
  const insD = db.prepare(`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, next_attempt_at, created_at, updated_at)
                           VALUES (?, ?, 'mem', 'pending', 5, ?, ?, ?)`)
  const claim = db.prepare(`UPDATE deliveries SET status = 'leased', lease_owner = 'raw', lease_expires_at = ?, next_attempt_at = NULL,
                            version = version + 1, updated_at = ? WHERE id = ? AND version = 0`)
  const sent = db.prepare(`UPDATE deliveries SET status = 'sent', attempts = 1, lease_owner = NULL, lease_expires_at = NULL,
                           version = version + 1, updated_at = ? WHERE id = ? AND version = 1 AND lease_owner = 'raw'`)
  const attempt = db.prepare(`INSERT INTO delivery_attempts (delivery_id, attempt, outcome, lease_owner, started_at, finished_at, duration_ms)
                              VALUES (?, 1, 'sent', 'raw', ?, ?, 0)`)
  const batch = 500
  const started = performance.now()
  for (let i = 0; i < n; i += batch) {
    const now = Date.now()
    const ids = Array.from({ length: Math.min(batch, n - i) }, (_, j) => i + j)
    db.transaction(() => {
      for (const k of ids) {
        insN.run(`ntf_${k}`, `t${k}`, now, now)
        insD.run(`dlv_${k}`, `ntf_${k}`, now, now, now)
      }
    })()
    db.transaction(() => { for (const k of ids) claim.run(now + 30_000, now, `dlv_${k}`) })()
    db.transaction(() => {
      for (const k of ids) {
        sent.run(now, `dlv_${k}`)
        attempt.run(`dlv_${k}`, now, now)
      }
    })()
  }
  const seconds = (performance.now() - started) / 1000
  db.close()
  return n / seconds
}
