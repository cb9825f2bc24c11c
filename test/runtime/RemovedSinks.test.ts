/** Deliveries of a sink that is removed from the settings are set aside with the reason; a disabled sink's wait and say why. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SinkFailure } from "../../src/domain/Sink.js"
import type { Herald } from "../../src/layers/Herald.js"
import { MemorySink } from "../../src/sinks/memory.js"
import { eventually, memorySettings, withHerald } from "../support/herald.js"

const withDesk = {
  ...memorySettings,
  sinks: { ...memorySettings.sinks, desk: { type: "desktop" } },
  routes: [...memorySettings.routes, { sink: "desk", minPriority: "low" }]
}
const deskDeliveries = (herald: Herald["Type"]) =>
  herald.listDeliveries({ sink: "desk" }).pipe(Effect.map((p) => p.items))

describe("removed and disabled sinks", () => {
  it.scoped("deliveries waiting for a removed sink become skipped with the reason, and can be requeued once it is back", () =>
    withHerald((herald) => Effect.gen(function* () {
      yield* herald.enqueueMany([{ kind: "k", title: "a" }, { kind: "k", title: "b" }, { kind: "k", title: "c" }])
      expect((yield* deskDeliveries(herald)).map((d) => d.status)).toEqual(["pending", "pending", "pending"])
      yield* herald.putSettings(memorySettings)
      const skipped = yield* deskDeliveries(herald)
      expect(skipped.map((d) => [d.status, d.reason])).toEqual(Array(3).fill(["skipped", "sink 'desk' was removed from the settings"]))
      expect(skipped.every((d) => d.attempts === 0)).toBe(true)
      // Requeued while the sink is still missing, it would wait for nobody: refused, saying why.
      const refused = yield* Effect.flip(herald.requeue(skipped[0]!.id))
      expect(refused).toMatchObject({ _tag: "IllegalTransition", reason: "sink 'desk' is not in the settings: add it back, then requeue" })
      yield* herald.putSettings(withDesk)
      expect((yield* herald.requeue(skipped[0]!.id)).status).toBe("pending")
      const claimed = yield* herald.claim({ sink: "desk", owner: "app", limit: 10 })
      expect(claimed.map((c) => c.delivery.id)).toEqual([skipped[0]!.id])
    }), { background: false }, withDesk))

  it.scoped("a delivery waiting for a retry of a sink that is then removed is skipped too, without another attempt", () =>
    withHerald((herald) => Effect.gen(function* () {
      const mem = yield* MemorySink
      yield* mem.setHandler(() => Effect.fail(new SinkFailure({ retryable: true, code: "http_503", message: "down" })))
      const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
      const waiting = yield* eventually(herald.getNotification(notification.id), (n) => n.deliveries[0]?.status === "retry_wait", "first failure")
      yield* herald.putSettings({ ...memorySettings, sinks: { other: { type: "memory" } }, routes: [] })
      const { delivery, attempts } = yield* herald.getDelivery(waiting.deliveries[0]!.id)
      expect(delivery).toMatchObject({ status: "skipped", attempts: 1, reason: "sink 'mem' was removed from the settings" })
      expect(attempts).toHaveLength(1)
    })))

  it.scoped("deliveries of a disabled sink wait, and say so in the API, until it is enabled again", () =>
    withHerald((herald) => Effect.gen(function* () {
      const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
      yield* herald.putSettings({ ...withDesk, sinks: { ...withDesk.sinks, desk: { type: "desktop", enabled: false } } })
      const { deliveries } = yield* herald.getNotification(notification.id)
      const desk = deliveries.find((d) => d.sink === "desk")!
      expect(desk).toMatchObject({ status: "pending", waitReason: "sink_disabled" })
      expect((yield* herald.getDelivery(desk.id)).delivery.waitReason).toBe("sink_disabled")
      expect((yield* deskDeliveries(herald))[0]!.waitReason).toBe("sink_disabled")
      // The memory sink's delivery is not waiting on anything.
      expect(deliveries.find((d) => d.sink === "mem")!.waitReason).toBeUndefined()
      yield* herald.putSettings(withDesk)
      const again = yield* herald.getDelivery(desk.id)
      expect(again.delivery).toMatchObject({ status: "pending" })
      expect(again.delivery.waitReason).toBeUndefined()
    }), { background: false }, withDesk))
})
