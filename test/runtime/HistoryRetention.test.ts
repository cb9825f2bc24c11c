import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { Herald } from "../../src/layers/Herald.js"
import { HistoryRetention } from "../../src/runtime/HistoryRetention.js"
import { withHerald } from "../support/herald.js"

// `desk` (a pull sink, so the test settles each delivery) from `normal`; `off` (disabled: its
// deliveries are skipped) from `low`. A low notification therefore has only a skipped delivery.
const settings = {
  sinks: { desk: { type: "desktop" }, off: { type: "log", enabled: false } },
  routes: [{ sink: "desk", minPriority: "normal" }, { sink: "off", minPriority: "low" }],
  retry: { maxAttempts: 1, baseMs: 1_000, factor: 2, capMs: 60_000 }
}

const deskDelivery = (herald: Herald["Type"], id: string) =>
  Effect.map(herald.getNotification(id), (n) => n.deliveries.find((d) => d.sink === "desk")!)

const settle = (herald: Herald["Type"], outcome: "ack" | "nack") =>
  Effect.gen(function* () {
    const [claimed] = yield* herald.claim({ sink: "desk", owner: "me", limit: 1 })
    const { id, version } = claimed!.delivery
    if (outcome === "ack") yield* herald.ack(id, { owner: "me", version })
    else yield* herald.nack(id, { owner: "me", version, code: "gone", message: "refused for good", retryable: false })
    return claimed!.notification.id as string
  })

const exists = (herald: Herald["Type"], id: string) =>
  herald.getNotification(id).pipe(Effect.as(true), Effect.catchTag("NotificationNotFound", () => Effect.succeed(false)))

describe("history retention", () => {
  it.scoped("deletes old notifications whose deliveries are all over, with their rows; keeps dead letters, unfinished ones and recently finished ones", () =>
    withHerald((herald) => Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const retention = yield* HistoryRetention

      // At 0: sent (+ skipped), dead, cancelled, still leased, only skipped; and 1,200 more
      // skipped-only ones, so the sweep runs over several transactions.
      const sent = (yield* herald.enqueue({ kind: "k", title: "sent", dedupeKey: "once" })).notification.id
      yield* settle(herald, "ack")
      const dead = (yield* herald.enqueue({ kind: "k", title: "dead" })).notification.id
      yield* settle(herald, "nack")
      const cancelled = (yield* herald.enqueue({ kind: "k", title: "cancelled" })).notification.id
      yield* herald.cancel((yield* deskDelivery(herald, cancelled)).id)
      const leased = (yield* herald.enqueue({ kind: "k", title: "leased" })).notification.id
      yield* herald.claim({ sink: "desk", owner: "someone else", limit: 1 })
      const skipped = (yield* herald.enqueue({ kind: "k", title: "skipped", priority: "low" })).notification.id
      yield* herald.enqueueMany(Array.from({ length: 1_200 }, (_, i) => ({ kind: "bulk", title: `b${i}`, priority: "low" as const })))
      const sentDeliveries = (yield* herald.getNotification(sent)).deliveries.map((d) => d.id)
      expect((yield* sql<{ n: number }>`SELECT count(*) AS n FROM delivery_attempts WHERE delivery_id IN ${sql.in(sentDeliveries)}`)[0]!.n).toBe(1)

      // At 30 s: one more sent, too recent for a one-minute retention at 60 s.
      yield* TestClock.setTime(30_000)
      const recent = (yield* herald.enqueue({ kind: "k", title: "recent" })).notification.id
      yield* settle(herald, "ack")

      yield* TestClock.setTime(60_001)
      expect(yield* retention.pruneOnce()).toBe(1_203)
      for (const [id, kept] of [[sent, false], [cancelled, false], [skipped, false], [dead, true], [leased, true], [recent, true]] as const) {
        expect(yield* exists(herald, id), id).toBe(kept)
      }
      // Their deliveries and attempt rows went with them; the counts followed.
      expect((yield* sql<{ n: number }>`SELECT count(*) AS n FROM deliveries WHERE id IN ${sql.in(sentDeliveries)}`)[0]!.n).toBe(0)
      expect((yield* sql<{ n: number }>`SELECT count(*) AS n FROM delivery_attempts WHERE delivery_id IN ${sql.in(sentDeliveries)}`)[0]!.n).toBe(0)
      expect((yield* herald.stats()).byStatus).toEqual({ dead: 1, leased: 1, sent: 1, skipped: 3 })
      // A dedupe key is remembered as long as its notification is kept.
      expect((yield* herald.enqueue({ kind: "k", title: "again", dedupeKey: "once" })).created).toBe(true)
      expect(yield* retention.pruneOnce()).toBe(0)

      // A dead letter requeued and sent later is kept a full retention after it was sent, not
      // after it was created; the leased one stays.
      yield* herald.requeue((yield* deskDelivery(herald, dead)).id)
      yield* TestClock.setTime(61_000)
      // Everything due is claimed; only the requeued one is acked, the others stay leased.
      const claimed = yield* herald.claim({ sink: "desk", owner: "me", limit: 10 })
      const requeued = claimed.find((c) => c.notification.id === dead)!.delivery
      yield* herald.ack(requeued.id, { owner: "me", version: requeued.version })
      yield* TestClock.setTime(120_000)
      expect(yield* retention.pruneOnce()).toBe(1) // the recent one, sent at 30 s
      expect(yield* exists(herald, recent)).toBe(false)
      expect(yield* exists(herald, dead)).toBe(true)
      yield* TestClock.setTime(121_001)
      expect(yield* retention.pruneOnce()).toBe(1)
      expect(yield* exists(herald, dead)).toBe(false)
      expect(yield* exists(herald, leased)).toBe(true)
    }), { background: false, historyRetentionMs: 60_000 }, settings))

  it.scoped("a notification enqueued while routing is off is kept however old: nothing about it is over", () =>
    withHerald((herald) => Effect.gen(function* () {
      const retention = yield* HistoryRetention
      const { notification } = yield* herald.enqueue({ kind: "k", title: "unrouted", priority: "low" })
      yield* TestClock.setTime(120_000)
      expect(yield* retention.pruneOnce()).toBe(0)
      expect(yield* exists(herald, notification.id)).toBe(true)
    }), { background: false, historyRetentionMs: 60_000 }, { ...settings, enabled: false }))

  it.scoped("0 keeps everything for ever", () =>
    withHerald((herald) => Effect.gen(function* () {
      const retention = yield* HistoryRetention
      const { notification } = yield* herald.enqueue({ kind: "k", title: "skipped", priority: "low" })
      yield* TestClock.setTime(10 * 365 * 86_400_000)
      expect(yield* retention.pruneOnce()).toBe(0)
      expect(yield* exists(herald, notification.id)).toBe(true)
    }), { background: false, historyRetentionMs: 0 }, settings))
})
