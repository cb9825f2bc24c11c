/**
 * The whole runtime on PostgreSQL (Herald.layer with a postgres:// URL), on a fresh database of
 * the throwaway server: enqueue to delivery, the change feed, restart, a settings change seen by
 * another runtime on the same database, and two runtimes sharing the work without a duplicate.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { ChangeEvent } from "../../src/domain/ChangeEvent.js"
import { Herald } from "../../src/layers/Herald.js"
import { MemorySink } from "../../src/sinks/memory.js"
import { memorySettings, provideHerald } from "../support/herald.js"
import { freshDatabase } from "../support/postgres.js"
import { receiver, whenIo } from "../support/receiver.js"

describe("Herald on PostgreSQL", () => {
  it.scopedLive("delivers what is enqueued, and the change feed shows each delivery's steps in order", () =>
    Effect.gen(function* () {
      const { url } = yield* freshDatabase
      yield* provideHerald(url, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings(memorySettings)
        const mem = yield* MemorySink
        const results = yield* herald.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ kind: "pg", title: `n${i}` })))
        expect(results).toHaveLength(50)
        yield* whenIo(herald.stats(), (s) => s.byStatus["sent"] === 50, "all 50 sent")
        expect((yield* mem.received).length).toBe(50)
        const page = yield* herald.listDeliveries({ limit: 100 })
        expect(page.items.every((d) => d.status === "sent" && d.attempts === 1)).toBe(true)
        const latest = yield* herald.latestSeq
        const events = yield* herald.subscribe(0).pipe(
          Stream.takeUntil((e) => e instanceof ChangeEvent && e.seq >= latest),
          Stream.runCollect,
          Effect.timeout("10 seconds")
        )
        // Numbers with holes (PostgreSQL's carry the writer's transaction id) are no reason to resync.
        expect(Chunk.toReadonlyArray(events).filter((e) => !(e instanceof ChangeEvent))).toEqual([])
        const changes = Chunk.toReadonlyArray(events).flatMap((e) => (e instanceof ChangeEvent ? [e] : []))
        // One ordered feed: sequence numbers only grow, and each delivery goes created -> (leased ->) sent.
        expect(changes.every((e, i) => i === 0 || e.seq > changes[i - 1]!.seq)).toBe(true)
        for (const d of page.items) {
          const steps = changes.filter((e) => e.entity === "delivery" && e.entityId === d.id).map((e) => e.event)
          expect(steps[0]).toBe("created")
          expect(steps.at(-1)).toBe("sent")
        }
      }))
    }))

  it.scopedLive("a restart on the same database keeps everything, and an enqueue after it is delivered", () =>
    Effect.gen(function* () {
      const { url } = yield* freshDatabase
      yield* provideHerald(url, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings({ ...memorySettings, sinks: { desk: { type: "desktop" }, mem: { type: "memory" } }, routes: [{ sink: "desk" }] })
        yield* herald.enqueue({ kind: "pg", title: "before" })
      }))
      yield* provideHerald(url, Effect.gen(function* () {
        const herald = yield* Herald
        const settings = yield* herald.getSettings
        expect(Object.keys(settings.sinks).sort()).toEqual(["desk", "mem"])
        expect((yield* herald.stats()).byStatus).toEqual({ pending: 1 })
        const claimed = yield* herald.claim({ sink: "desk", owner: "app", limit: 10 })
        expect(claimed).toHaveLength(1)
        const { delivery } = claimed[0]!
        yield* herald.ack(delivery.id, { owner: "app", version: delivery.version })
        expect((yield* herald.stats()).byStatus).toEqual({ sent: 1 })
      }))
    }))

  it.scopedLive("two runtimes on one database: each notification reaches the receiver once, and a settings change made through one reaches the other", () =>
    Effect.gen(function* () {
      const { url } = yield* freshDatabase
      const arrivals = new Map<string, number>()
      const hook = yield* receiver((r) => {
        const id = String(r.headers["webhook-id"])
        arrivals.set(id, (arrivals.get(id) ?? 0) + 1)
        return { status: 204 }
      })
      const settings = {
        sinks: { hook: { type: "webhook", url: `${hook.url}/in`, allowPrivateNetwork: true } },
        routes: [{ sink: "hook" }]
      }
      yield* provideHerald(url, Effect.gen(function* () {
        const a = yield* Herald
        yield* a.putSettings(settings)
        yield* provideHerald(url, Effect.gen(function* () {
          const b = yield* Herald
          yield* Effect.all([
            a.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ kind: "pg", title: `a${i}` }))),
            b.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ kind: "pg", title: `b${i}` })))
          ], { concurrency: 2 })
          yield* whenIo(a.stats(), (s) => s.byStatus["sent"] === 200, "all 200 sent", 30_000)
          expect(arrivals.size).toBe(200)
          expect([...arrivals.values()].every((n) => n === 1)).toBe(true)
          // A change through b reaches a within a second (the change feed, woken by NOTIFY).
          yield* b.putSettings({ ...settings, sinks: { ...settings.sinks, extra: { type: "desktop" } } })
          yield* whenIo(a.getSettings, (s) => "extra" in s.sinks, "a sees b's settings", 1_000)
        }))
      }))
    }))
})

