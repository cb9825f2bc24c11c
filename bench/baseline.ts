/**
 * The raw baselines: the row writes Herald makes per delivery, done by plain better-sqlite3
 * prepared statements in transactions of 500, with no Effect and no JavaScript logic, and
 * with Herald's own statement shapes (32 rows to a multi-row INSERT, 32 fenced updates to an
 * UPDATE ... FROM VALUES), so the ratio compares the runtime, not the SQL.
 * - `claim`: a delivery waits and is claimed (notification insert, pending delivery insert,
 *   claim update, sent update, attempt insert, and what the triggers write: four change_log rows
 *   and the delivery_counts updates).
 * - `handoff`: the fewest writes Herald's contract allows, its direct hand-off (the delivery is
 *   created leased: no claim update and one change_log row less). This is the ceiling of any
 *   end-to-end figure on the machine at hand.
 */
import Database from "better-sqlite3"
import { readMigrations } from "../src/store/sqlite/Migrations.js"
import { insertSql, rowsPerStatement, valuesSql } from "../src/store/sqlite/multiRow.js"

export type RawPath = "claim" | "handoff"

const per = rowsPerStatement

export const rawDeliveriesPerSecond = (file: string, n: number, path: RawPath = "claim"): number => {
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("foreign_keys = ON")
  for (const f of readMigrations()) for (const s of f.statements) db.exec(s)
  const insN = db.prepare(`INSERT INTO notifications (id, kind, priority, title, body, payload, created_at, routed_at)
                           VALUES ${Array.from({ length: per }, () => "(?, 'bench', 'normal', ?, '', '{}', ?, ?)").join(", ")}`)
  const insD = db.prepare(insertSql(`INSERT INTO deliveries (id, notification_id, sink, status, max_attempts, next_attempt_at,
                                                             lease_owner, lease_expires_at, version, created_at, updated_at)`, 11, per))
  // The fenced update of Herald's outcome and claim transactions: id, new status, lease, then the fence.
  const update = db.prepare(`UPDATE deliveries AS d SET status = v.column2, attempts = v.column3, lease_owner = v.column4,
                               lease_expires_at = v.column5, next_attempt_at = NULL, updated_at = v.column6, version = d.version + 1
                             FROM (${valuesSql(9, per)}) AS v
                             WHERE d.id = v.column1 AND d.version = v.column7 AND d.status = v.column8
                               AND (v.column9 IS NULL OR d.lease_owner = v.column9)
                             RETURNING id`)
  const attempt = db.prepare(insertSql("INSERT INTO delivery_attempts (delivery_id, attempt, outcome, lease_owner, started_at, finished_at, duration_ms)", 7, per))
  const batch = 500 - (500 % per) // whole statements: 480
  // Ids shaped like Herald's (a prefix and 26 characters, increasing), so the B-trees see the same keys.
  const idOf = (prefix: string, k: number) => `${prefix}_01JZZZZZZZZZZZ${String(1e11 + k)}`
  const chunks = (from: number, to: number, each: (k: number, p: Array<unknown>) => void, run: (p: Array<unknown>) => unknown) => {
    for (let i = from; i < to; i += per) {
      const p: Array<unknown> = []
      for (let k = i; k < i + per; k++) each(k, p)
      run(p)
    }
  }
  const total = n - (n % per)
  const started = performance.now()
  for (let i = 0; i < total; i += batch) {
    const now = Date.now()
    const end = Math.min(i + batch, total)
    const leased = path === "handoff"
    db.transaction(() => {
      chunks(i, end, (k, p) => p.push(idOf("ntf", k), `t${k}`, now, now), (p) => insN.run(p))
      chunks(i, end, (k, p) => p.push(idOf("dlv", k), idOf("ntf", k), "mem", leased ? "leased" : "pending", 5, leased ? null : now,
        leased ? "raw" : null, leased ? now + 30_000 : null, leased ? 1 : 0, now, now), (p) => insD.run(p))
    })()
    if (!leased) {
      db.transaction(() => chunks(i, end, (k, p) => p.push(idOf("dlv", k), "leased", 0, "raw", now + 30_000, now, 0, "pending", null), (p) => update.all(p)))()
    }
    db.transaction(() => {
      chunks(i, end, (k, p) => p.push(idOf("dlv", k), "sent", 1, null, null, now, 1, "leased", "raw"), (p) => update.all(p))
      chunks(i, end, (k, p) => p.push(idOf("dlv", k), 1, "sent", "raw", now, now, 0), (p) => attempt.run(p))
    })()
  }
  const seconds = (performance.now() - started) / 1000
  const sent = (db.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'sent'").get() as { n: number }).n
  db.close()
  if (sent !== total) throw new Error(`raw baseline: ${sent} of ${total} deliveries sent; the baseline is broken`)
  return total / seconds
}
