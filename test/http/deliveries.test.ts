import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { call, testServer, useDesktopSink } from "./support.js"

/** Enqueues one notification routed to the desktop sink; returns its delivery id. */
const oneDelivery = (title: string) =>
  Effect.gen(function* () {
    const created = yield* call("POST", "/v1/notifications", { body: { kind: "deliv", title } })
    const got = yield* call("GET", `/v1/notifications/${created.body.notification.id}`)
    return got.body.deliveries[0].id as string
  })

/** Claims until `id` is leased by `owner` (other due deliveries are claimed too); returns the lease's version. */
const claimUntil = (id: string, owner: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 20; i++) {
      const claimed = yield* call("POST", "/v1/sinks/desk/claim", { body: { owner, limit: 500 } })
      expect(claimed.status).toBe(200)
      const mine = claimed.body.find((c: { delivery: { id: string } }) => c.delivery.id === id)
      if (mine !== undefined) return mine.delivery.version as number
    }
    throw new Error(`${id} was never claimed`)
  })

const deadDelivery = (title: string) =>
  Effect.gen(function* () {
    const id = yield* oneDelivery(title)
    const version = yield* claimUntil(id, "w-dead")
    const nack = yield* call("POST", `/v1/deliveries/${id}/nack`, { body: { owner: "w-dead", version, code: "bounced", message: "no such user", retryable: false } })
    expect(nack.status).toBe(200)
    expect(nack.body.status).toBe("dead")
    return id
  })

layer(testServer(), { excludeTestServices: true })("HTTP deliveries, dead letter and pull sinks", (it) => {
  it.effect("a claim leases deliveries with their notifications; ack sends; a second ack answers 409", () =>
    Effect.gen(function* () {
      yield* useDesktopSink
      const id = yield* oneDelivery("claim me")
      const version = yield* claimUntil(id, "w1")
      const ack = yield* call("POST", `/v1/deliveries/${id}/ack`, { body: { owner: "w1", version, externalId: "desk-42" } })
      expect(ack.status).toBe(200)
      expect(ack.body).toMatchObject({ id, status: "sent", externalId: "desk-42" })
      const again = yield* call("POST", `/v1/deliveries/${id}/ack`, { body: { owner: "w1", version } })
      expect(again.status).toBe(409)
      expect(again.body).toMatchObject({ code: "StaleWrite", deliveryId: id })
      const detail = yield* call("GET", `/v1/deliveries/${id}`)
      expect(detail.body.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(["sent"])
    }))

  it.effect("an ack or nack from another owner answers 409 and changes nothing", () =>
    Effect.gen(function* () {
      const id = yield* oneDelivery("owned")
      const version = yield* claimUntil(id, "w-owner")
      const before = yield* call("GET", `/v1/deliveries/${id}`)
      const wrongAck = yield* call("POST", `/v1/deliveries/${id}/ack`, { body: { owner: "intruder", version } })
      const wrongNack = yield* call("POST", `/v1/deliveries/${id}/nack`, { body: { owner: "intruder", version, code: "x", message: "x", retryable: true } })
      expect([wrongAck.status, wrongNack.status]).toEqual([409, 409])
      expect(wrongAck.body.code).toBe("StaleWrite")
      const after = yield* call("GET", `/v1/deliveries/${id}`)
      expect(after.body).toEqual(before.body)
    }))

  it.effect("a retryable nack waits (retry_wait) and honours retryAfter; a permanent one goes dead", () =>
    Effect.gen(function* () {
      const id = yield* oneDelivery("retry")
      const version = yield* claimUntil(id, "w2")
      const nack = yield* call("POST", `/v1/deliveries/${id}/nack`, { body: { owner: "w2", version, code: "busy", message: "try later", retryable: true, retryAfter: 600 } })
      expect(nack.status).toBe(200)
      expect(nack.body.status).toBe("retry_wait")
      expect(nack.body.nextAttemptAt - nack.body.updatedAt).toBeGreaterThanOrEqual(600_000)
      const dead = yield* deadDelivery("perm")
      const list = yield* call("GET", "/v1/deliveries?status=dead&sink=desk")
      expect(list.body.items.map((d: { id: string }) => d.id)).toContain(dead)
    }))

  it.effect("requeue brings a dead delivery back; a sent one answers 409 saying why; unknown ids 404", () =>
    Effect.gen(function* () {
      const dead = yield* deadDelivery("requeue me")
      const requeued = yield* call("POST", `/v1/deliveries/${dead}/requeue`)
      expect(requeued.status).toBe(200)
      expect(requeued.body).toMatchObject({ id: dead, status: "pending", attempts: 0 })
      const sent = yield* oneDelivery("sent one")
      const version = yield* claimUntil(sent, "w3")
      yield* call("POST", `/v1/deliveries/${sent}/ack`, { body: { owner: "w3", version } })
      const refused = yield* call("POST", `/v1/deliveries/${sent}/requeue`)
      expect(refused.status).toBe(409)
      expect(refused.body).toMatchObject({ code: "IllegalTransition", state: "sent", event: "REQUEUE" })
      expect(refused.body.detail).toContain("sent")
      const missing = yield* call("POST", "/v1/deliveries/dlv_nope/requeue")
      expect(missing.status).toBe(404)
      expect(missing.body.code).toBe("DeliveryNotFound")
    }))

  it.effect("a bulk requeue reports partial failure per id instead of all-or-nothing", () =>
    Effect.gen(function* () {
      const deadA = yield* deadDelivery("bulk a")
      const deadB = yield* deadDelivery("bulk b")
      const deadC = yield* deadDelivery("bulk c")
      const sent = yield* oneDelivery("bulk sent")
      const version = yield* claimUntil(sent, "w4")
      yield* call("POST", `/v1/deliveries/${sent}/ack`, { body: { owner: "w4", version } })
      const report = yield* call("POST", "/v1/deliveries/requeue", { body: { ids: [deadA, sent, deadB, "dlv_missing", deadC] } })
      expect(report.status).toBe(200)
      expect(report.body.summary).toBe("3 of 5 requeued")
      expect(report.body.requeued).toEqual([deadA, deadB, deadC])
      expect(report.body.failed).toEqual([
        { id: sent, code: "IllegalTransition", reason: expect.stringContaining("sent") },
        { id: "dlv_missing", code: "DeliveryNotFound", reason: expect.any(String) }
      ])
      const byFilter = yield* call("POST", "/v1/deliveries/requeue", { body: { status: "dead", sink: "desk" } })
      expect(byFilter.body.failed).toEqual([])
      const bad = yield* call("POST", "/v1/deliveries/requeue", { body: { ids: [] } })
      expect(bad.status).toBe(400)
    }))

  it.effect("a bulk requeue with an empty filter answers 400 and requeues nothing, unless it says all: true", () =>
    Effect.gen(function* () {
      const dead = yield* deadDelivery("everything?")
      const before = yield* call("GET", `/v1/deliveries/${dead}`)
      for (const body of [{}, { limit: 500 }, { all: false }]) {
        const refused = yield* call("POST", "/v1/deliveries/requeue", { body })
        expect(refused.status).toBe(400)
        expect(refused.body).toMatchObject({ code: "InvalidInput", path: "all" })
      }
      expect((yield* call("GET", `/v1/deliveries/${dead}`)).body).toEqual(before.body)
      const all = yield* call("POST", "/v1/deliveries/requeue", { body: { all: true } })
      expect(all.status).toBe(200)
      expect(all.body.requeued).toContain(dead)
    }))

  it.effect("cancel keeps the row with its reason; cancelling it again answers 409", () =>
    Effect.gen(function* () {
      const id = yield* oneDelivery("cancel me")
      const cancelled = yield* call("POST", `/v1/deliveries/${id}/cancel`, { body: { reason: "not needed" } })
      expect(cancelled.status).toBe(200)
      expect(cancelled.body).toMatchObject({ status: "cancelled", reason: "not needed" })
      const again = yield* call("POST", `/v1/deliveries/${id}/cancel`)
      expect(again.status).toBe(409)
    }))

  it.effect("claiming a push sink or an unknown sink answers 400 with the path", () =>
    Effect.gen(function* () {
      const unknown = yield* call("POST", "/v1/sinks/nope/claim", { body: { owner: "w" } })
      expect(unknown.status).toBe(400)
      expect(unknown.body).toMatchObject({ code: "InvalidInput", path: "sink" })
      const badLimit = yield* call("POST", "/v1/sinks/desk/claim", { body: { owner: "w", limit: 0 } })
      expect(badLimit.status).toBe(400)
      expect(badLimit.body.path).toBe("limit")
    }))

  it.effect("concurrent claimers never receive the same delivery", () =>
    Effect.gen(function* () {
      const herald = yield* Herald
      // Drain whatever earlier tests left due, then enqueue a fresh batch.
      yield* call("POST", "/v1/sinks/desk/claim", { body: { owner: "sweeper", limit: 500 } })
      yield* herald.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ kind: "contended", title: `c${i}` })))
      const claims = yield* Effect.all(
        Array.from({ length: 6 }, (_, w) =>
          Effect.gen(function* () {
            const mine: Array<string> = []
            for (;;) {
              const r = yield* call("POST", "/v1/sinks/desk/claim", { body: { owner: `claimer-${w}`, limit: 7 } })
              if (r.body.length === 0) return mine
              for (const c of r.body) mine.push(c.delivery.id)
            }
          })),
        { concurrency: "unbounded" }
      )
      const all = claims.flat()
      expect(all.length).toBe(300)
      expect(new Set(all).size).toBe(300)
    }))

  it.effect("the list of deliveries pages with a cursor and filters by notification", () =>
    Effect.gen(function* () {
      const created = yield* call("POST", "/v1/notifications", { body: { kind: "deliv", title: "by notification" } })
      const nid = created.body.notification.id
      const list = yield* call("GET", `/v1/deliveries?notification=${nid}`)
      expect(list.body.items).toHaveLength(1)
      const page1 = yield* call("GET", "/v1/deliveries?limit=5")
      const page2 = yield* call("GET", `/v1/deliveries?limit=5&after=${page1.body.next}`)
      const ids = [...page1.body.items, ...page2.body.items].map((d: { id: string }) => d.id)
      expect(new Set(ids).size).toBe(10)
      const bad = yield* call("GET", "/v1/deliveries?status=lost")
      expect(bad.status).toBe(400)
      expect(bad.body.path).toBe("status")
    }))
})
