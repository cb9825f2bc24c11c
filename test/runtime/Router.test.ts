import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { defaultSettings } from "../../src/domain/Settings.js"
import { Herald } from "../../src/layers/Herald.js"
import { planDeliveries } from "../../src/runtime/Router.js"
import { Router } from "../../src/runtime/Router.js"
import { memorySettings, provideHerald, tempDatabase } from "../support/herald.js"

describe("Router", () => {
  it("plans one delivery per sink however many routes name it, and skips what cannot be delivered, saying why", () => {
    const settings = {
      ...defaultSettings,
      sinks: { mem: { type: "memory" as const, enabled: true }, off: { type: "memory" as const, enabled: false } },
      routes: [
        { sink: "mem", minPriority: "low" as const },
        { sink: "mem", minPriority: "high" as const },
        { sink: "ghost", minPriority: "low" as const },
        { sink: "off", minPriority: "low" as const },
        { sink: "mem", minPriority: "urgent" as const, kinds: ["other"] }
      ]
    }
    const plan = planDeliveries({ id: "n1", kind: "k", priority: "urgent" }, settings, new Set(["memory"]), 5)
    expect(plan.map((d) => [d.sink, d.status, d.reason])).toEqual([
      ["mem", "pending", null],
      ["ghost", "skipped", "a route names sink 'ghost', which is not configured"],
      ["off", "skipped", "sink 'off' is disabled"]
    ])
    expect(planDeliveries({ id: "n2", kind: "k", priority: "low" }, { ...settings, routes: [{ sink: "mem", minPriority: "normal" }] }, new Set(["memory"]), 5)).toEqual([])
  })

  it.scoped("routing is idempotent: routing the same notifications again creates no second delivery", () =>
    Effect.gen(function* () {
      const db = yield* tempDatabase
      yield* provideHerald(db, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings({ ...memorySettings, enabled: false })
        const { notification } = yield* herald.enqueue({ kind: "k", title: "t" })
        expect(notification.routedAt).toBeNull()
        expect((yield* herald.getNotification(notification.id)).deliveries).toEqual([])
        const router = yield* Router
        const settings = { ...(yield* herald.getSettings), enabled: true }
        expect(yield* router.routeWaiting(settings)).toBe(1)
        expect(yield* router.routeWaiting(settings)).toBe(0)
        // Re-planning rows that exist already is ON CONFLICT DO NOTHING.
        const again = yield* herald.getNotification(notification.id)
        expect(again.deliveries.map((d) => d.sink)).toEqual(["mem"])
      }), { background: false })
    }))

  it.scoped("notifications wait, unrouted, while routing is disabled, and are routed when it is enabled", () =>
    Effect.gen(function* () {
      const db = yield* tempDatabase
      yield* provideHerald(db, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings({ ...memorySettings, enabled: false })
        const a = yield* herald.enqueue({ kind: "k", title: "a" })
        const b = yield* herald.enqueue({ kind: "k", title: "b" })
        expect((yield* herald.listDeliveries({})).items).toEqual([])
        yield* herald.putSettings(memorySettings)
        for (const n of [a, b]) {
          const got = yield* herald.getNotification(n.notification.id)
          expect(got.notification.routedAt).not.toBeNull()
          expect(got.deliveries.map((d) => d.sink)).toEqual(["mem"])
        }
      }), { background: false })
    }))
})
