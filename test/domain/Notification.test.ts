import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Either, Schema } from "effect"
import fc from "fast-check"
import { NotificationInput } from "../../src/domain/Notification.js"
import { readMigrations } from "../../src/store/sqlite/Migrations.js"

const decode = Schema.decodeUnknownEither(NotificationInput, { errors: "all", onExcessProperty: "error" })

// Text in every unit SQLite counts differently from JavaScript: astral characters (two UTF-16
// units, one SQLite character), NULs (where length() stops), lone surrogates; around the limits.
const unit = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom("a", "é", "\ud83d\ude00") },
  { weight: 1, arbitrary: fc.constantFrom("\u0000", "\ud800", "\udfff") }
)
const text = (max: number) => fc.oneof(
  { weight: 2, arbitrary: fc.string({ unit, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.integer({ min: max - 3, max: max + 3 }).chain((n) => fc.string({ unit: fc.constantFrom("k", "\ud83d\ude00"), minLength: n, maxLength: n }))
    .map((s) => s.slice(0, max + 3)) }
)
const nested = (levels: number): unknown => {
  let v: unknown = 1
  for (let i = 1; i < levels; i++) v = { a: v }
  return v
}
const input = fc.record({
  kind: text(200),
  title: text(1_000),
  body: fc.string({ unit, maxLength: 8 }),
  payload: fc.oneof(
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ v })) },
    { weight: 1, arbitrary: fc.integer({ min: 60, max: 70 }).map((n) => ({ v: nested(n) })) }
  ),
  dedupeKey: text(200),
  projectId: text(200),
  sessionId: text(200)
}, { requiredKeys: ["kind", "title"] })

describe("NotificationInput", () => {
  it("whatever it accepts, the notifications table's CHECKs accept: nothing a client sends can fail in the database", () => {
    const db = new Database(":memory:")
    for (const migration of readMigrations()) for (const statement of migration.statements) db.exec(statement)
    const insert = db.prepare(`INSERT INTO notifications (id, kind, priority, title, body, payload, dedupe_key, project_id, session_id, created_at, routed_at)
                               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL)`)
    let accepted = 0
    fc.assert(fc.property(input, (raw) => {
      const decoded = decode(raw)
      if (Either.isLeft(decoded)) return
      accepted++
      const n = decoded.right
      db.exec("SAVEPOINT probe")
      try {
        insert.run(`ntf_${accepted}`, n.kind, n.priority, n.title, n.body, JSON.stringify(n.payload), n.dedupeKey ?? null, n.projectId ?? null, n.sessionId ?? null)
      } finally {
        db.exec("ROLLBACK TO probe")
        db.exec("RELEASE probe")
      }
    }), { numRuns: 3_000 })
    expect(accepted).toBeGreaterThan(100)
    db.close()
  })
})
