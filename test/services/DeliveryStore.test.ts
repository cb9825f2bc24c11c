import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { claimTransitions } from "../../src/services/Dispatcher.js"
import { DeliveryStore } from "../../src/services/DeliveryStore.js"
import { Writer } from "../../src/services/Writer.js"
import { withHerald } from "../support/herald.js"

describe("DeliveryStore", () => {
  it.scoped("a transition computed from an old version is not written (compare-and-set)", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const store = yield* DeliveryStore
        const writer = yield* Writer
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const [row] = yield* store.due("mem", 0, 10)
        expect(row!.notificationId).toBe(notification.id)
        const [first] = claimTransitions([row!], "w1", 10_000, 0)
        const [second] = claimTransitions([row!], "w2", 10_000, 0)
        expect(yield* writer.transaction(store.persist([first!]))).toEqual(new Set([row!.id]))
        expect(yield* writer.transaction(store.persist([second!]))).toEqual(new Set())
        const { delivery, attempts } = yield* herald.getDelivery(row!.id)
        expect(delivery).toMatchObject({ status: "leased", leaseOwner: "w1", version: 1 })
        expect(attempts).toEqual([])
      }), { background: false })
    }))

  it.scoped("change_log gets one row per real change and none for an update that changes nothing", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        const count = sql<{ n: number }>`SELECT count(*) AS n FROM change_log`.pipe(Effect.map((r) => r[0]!.n))
        const before = yield* count
        yield* sql`UPDATE deliveries SET status = status, attempts = attempts, lease_expires_at = lease_expires_at`
        yield* sql`UPDATE notifications SET routed_at = routed_at`
        yield* sql`UPDATE settings SET document = document`
        expect(yield* count).toBe(before)
        yield* sql`UPDATE deliveries SET attempts = attempts + 1 WHERE notification_id = ${notification.id}`
        expect(yield* count).toBe(before + 1)
        const last = yield* sql<{ event: string; payload: string }>`SELECT event, payload FROM change_log ORDER BY seq DESC LIMIT 1`
        expect(last[0]!.event).toBe("updated")
        expect(JSON.parse(last[0]!.payload)).toMatchObject({ attempts: 1, status: "pending" })
      }), { background: false })
    }))

  it.scoped("a status the schema does not know is refused by the CHECK constraint", () =>
    Effect.gen(function* () {
      yield* withHerald((herald) => Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* herald.enqueue({ kind: "k", title: "t" })
        const r = yield* Effect.either(sql`UPDATE deliveries SET status = 'lost'`)
        expect(r._tag).toBe("Left")
      }), { background: false })
    }))
})
