/**
 * The circuit breaker end to end, against a real HTTP receiver on 127.0.0.1 and under the
 * TestClock: it opens after N retryable failures in a row, holds the sink's deliveries without
 * spending attempts, sends one probe after the cooldown, closes on its success and lets the
 * held deliveries out; a failed probe reopens it for longer; a permanent failure never opens
 * it; its state survives a restart; an operator's reset closes it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { ChangeLogStore } from "../../src/store/ChangeLogStore.js"
import { provideHerald, stays, tempDatabase } from "../support/herald.js"
import { holdsFor, scriptedReceiver as scripted, whenIo } from "../support/receiver.js"

const settingsFor = (url: string, circuit: Record<string, number>) => ({
  sinks: {
    hook: {
      type: "webhook", url, allowPrivateNetwork: true, circuit,
      // Retries are due within a second: while the circuit is open they wait for it, not for their backoff.
      retry: { maxAttempts: 10, baseMs: 1_000, factor: 1, capMs: 1_000 }
    }
  },
  routes: [{ sink: "hook" }],
  leaseMs: 30_000
})

const notifications = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ kind: "k", title: `${prefix}${i}` }))

/** The circuit's events in the change feed, in order. */
const circuitEvents = Effect.flatMap(ChangeLogStore, (changes) =>
  Effect.map(Effect.orDie(changes.after(0, 100_000)), (events) => events.filter((e) => e.entity === "circuit").map((e) => e.event)))

/** Other processes' writes are not part of these tests: the feed polls rarely, so a long TestClock adjust stays cheap. */
const run = <A, E, R>(db: string, effect: Effect.Effect<A, E, R>) => provideHerald(db, effect, { feedPollMs: 5_000 })

const sinkOf = (herald: Herald["Type"]) => herald.getSink("hook")
const deliveriesOf = (herald: Herald["Type"]) => Effect.map(herald.listDeliveries({ limit: 1_000 }), (p) => p.items)

describe("circuit breaker", () => {
  it.scoped("opens after 3 retryable failures, holds deliveries without spending attempts, probes once after the cooldown, then lets them all out", () =>
    Effect.gen(function* () {
      const hook = yield* scripted
      const db = yield* tempDatabase
      yield* run(db, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings(settingsFor(hook.url, { failureThreshold: 3, cooldownMs: 60_000 }))
        yield* herald.enqueueMany(notifications("first", 3))
        const open = yield* whenIo(sinkOf(herald), (s) => s.circuit === "open", "the circuit opened")
        expect(open).toMatchObject({ consecutiveFailures: 3, probeAt: 60_000, lastError: { code: "http_500" } })
        expect(hook.calls).toHaveLength(3)
        // More work arrives while it is open; every retry becomes due long before the cooldown ends.
        yield* herald.enqueueMany(notifications("later", 5))
        yield* TestClock.adjust("30 seconds")
        yield* stays(deliveriesOf(herald), (ds) => ds.every((d) => d.status !== "leased"), "a claim while the circuit is open")
        yield* holdsFor(() => hook.calls.length === 3, "a call while the circuit is open", 100)
        const held = yield* deliveriesOf(herald)
        expect(held).toHaveLength(8)
        for (const d of held) {
          expect(d).toMatchObject({ waitReason: "circuit_open", attempts: d.attempts })
          expect(["pending", "retry_wait"]).toContain(d.status)
        }
        expect(held.map((d) => d.attempts).sort()).toEqual([0, 0, 0, 0, 0, 1, 1, 1])
        // The cooldown ends: exactly one probe goes out, and nothing else while it is out.
        hook.mode.status = 204
        hook.mode.hold = true
        yield* TestClock.adjust("30 seconds")
        yield* whenIo(Effect.sync(() => hook.held.length), (n) => n === 1, "the probe went out")
        expect(yield* sinkOf(herald)).toMatchObject({ circuit: "half_open" })
        yield* holdsFor(() => hook.calls.length === 4, "a second call while the probe is out", 150)
        hook.mode.hold = false
        hook.held.splice(0)[0]!.writeHead(204).end()
        yield* whenIo(herald.stats(), (s) => s.byStatus["sent"] === 8, "every held delivery went out")
        expect(yield* sinkOf(herald)).toMatchObject({ circuit: "closed", consecutiveFailures: 0, probeAt: null })
        // One call per delivery once closed: 3 failures, the probe, the other 7.
        expect(hook.calls).toHaveLength(11)
        const sent = yield* deliveriesOf(herald)
        // The three that failed before it opened have two attempts, the five enqueued while open one.
        expect(sent.map((d) => d.attempts).sort()).toEqual([1, 1, 1, 1, 1, 2, 2, 2])
        for (const d of sent) {
          const { attempts } = yield* herald.getDelivery(d.id)
          expect(attempts).toHaveLength(d.attempts)
          // The attempt that finally went out waited for the circuit, and says so.
          expect(attempts.at(-1)).toMatchObject({ outcome: "sent", heldBy: "circuit_open" })
          if (attempts.length === 2) expect(attempts[0]).toMatchObject({ outcome: "failed", errorCode: "http_500", heldBy: null })
        }
        expect(yield* circuitEvents).toEqual(["open", "half_open", "closed"])
      }))
    }))

  it.scoped("a failed probe reopens the circuit with a longer cooldown (factor 2); the next probe after it closes it", () =>
    Effect.gen(function* () {
      const hook = yield* scripted
      const db = yield* tempDatabase
      yield* run(db, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings(settingsFor(hook.url, { failureThreshold: 1, cooldownMs: 10_000 }))
        yield* herald.enqueue({ kind: "k", title: "one" })
        yield* whenIo(sinkOf(herald), (s) => s.circuit === "open", "the circuit opened")
        yield* TestClock.adjust("10 seconds")
        // The probe fails too: open again, for twice as long.
        const reopened = yield* whenIo(sinkOf(herald), (s) => s.circuit === "open" && s.probeAt === 30_000, "the circuit reopened for 20 s")
        expect(reopened.circuitReason).toMatch(/probe failed/)
        expect(hook.calls).toHaveLength(2)
        yield* TestClock.adjust("10 seconds")
        yield* stays(deliveriesOf(herald), (ds) => ds.every((d) => d.status !== "leased"), "a probe before the longer cooldown ended")
        yield* holdsFor(() => hook.calls.length === 2, "a call before the longer cooldown ended", 100)
        hook.mode.status = 204
        yield* TestClock.adjust("10 seconds")
        yield* whenIo(herald.stats(), (s) => s.byStatus["sent"] === 1, "the probe succeeded")
        expect(yield* sinkOf(herald)).toMatchObject({ circuit: "closed" })
        expect(hook.calls).toHaveLength(3)
        expect(yield* circuitEvents).toEqual(["open", "half_open", "open", "half_open", "closed"])
      }))
    }))

  it.scoped("a permanent failure (410) never opens the circuit: the sink answered", () =>
    Effect.gen(function* () {
      const hook = yield* scripted
      hook.mode.status = 410
      const db = yield* tempDatabase
      yield* run(db, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings(settingsFor(hook.url, { failureThreshold: 1, cooldownMs: 60_000 }))
        yield* herald.enqueueMany(notifications("gone", 3))
        yield* whenIo(herald.stats(), (s) => s.byStatus["dead"] === 3, "every delivery dead after one attempt")
        expect(yield* sinkOf(herald)).toMatchObject({ circuit: "closed", consecutiveFailures: 0, lastError: { code: "http_410" } })
        hook.mode.status = 204
        yield* herald.enqueue({ kind: "k", title: "after" })
        yield* whenIo(herald.stats(), (s) => s.byStatus["sent"] === 1, "the next one went out at once")
        expect(hook.calls).toHaveLength(4)
        expect(yield* circuitEvents).toEqual([])
      }))
    }))

  it.scoped("an open circuit stays open across a restart, holds what it held, and probes when the persisted cooldown ends", () =>
    Effect.gen(function* () {
      const hook = yield* scripted
      const db = yield* tempDatabase
      yield* run(db, Effect.gen(function* () {
        const herald = yield* Herald
        yield* herald.putSettings(settingsFor(hook.url, { failureThreshold: 1, cooldownMs: 60_000 }))
        yield* herald.enqueue({ kind: "k", title: "before" })
        yield* whenIo(sinkOf(herald), (s) => s.circuit === "open", "the circuit opened")
      }))
      hook.mode.status = 204
      yield* TestClock.adjust("20 seconds")
      yield* run(db, Effect.gen(function* () {
        const herald = yield* Herald
        expect(yield* sinkOf(herald)).toMatchObject({ circuit: "open", probeAt: 60_000 })
        yield* herald.enqueue({ kind: "k", title: "after restart" })
        yield* stays(deliveriesOf(herald), (ds) => ds.every((d) => d.status !== "leased"), "a claim before the cooldown ended")
        yield* holdsFor(() => hook.calls.length === 1, "a call before the cooldown ended", 100)
        yield* TestClock.adjust("40 seconds")
        yield* whenIo(herald.stats(), (s) => s.byStatus["sent"] === 2, "both went out after the probe")
        expect(yield* sinkOf(herald)).toMatchObject({ circuit: "closed" })
        expect(hook.calls).toHaveLength(3)
      }))
    }))

  it.scoped("an operator's reset closes an open circuit at once; removing the breaker from the settings closes one too", () =>
    Effect.gen(function* () {
      const hook = yield* scripted
      const db = yield* tempDatabase
      yield* run(db, Effect.gen(function* () {
        const herald = yield* Herald
        const settings = settingsFor(hook.url, { failureThreshold: 1, cooldownMs: 3_600_000 })
        yield* herald.putSettings(settings)
        yield* herald.enqueue({ kind: "k", title: "a" })
        yield* whenIo(sinkOf(herald), (s) => s.circuit === "open", "the circuit opened")
        hook.mode.status = 204
        yield* TestClock.adjust("2 seconds") // its retry is due; the circuit still holds it
        const reset = yield* herald.resetCircuit("hook")
        expect(reset).toMatchObject({ circuit: "closed", circuitReason: "reset by an operator" })
        yield* whenIo(herald.stats(), (s) => s.byStatus["sent"] === 1, "the held delivery went out after the reset")
        // Open it again, then take the breaker out of the settings.
        hook.mode.status = 503
        yield* herald.enqueue({ kind: "k", title: "b" })
        yield* whenIo(sinkOf(herald), (s) => s.circuit === "open", "the circuit opened again")
        hook.mode.status = 204
        yield* TestClock.adjust("2 seconds")
        const { circuit: _, ...withoutBreaker } = settings.sinks.hook
        yield* herald.putSettings({ ...settings, sinks: { hook: withoutBreaker } })
        yield* whenIo(herald.stats(), (s) => s.byStatus["sent"] === 2, "the held delivery went out once the breaker was removed")
        expect(yield* sinkOf(herald)).toMatchObject({ circuit: "closed" })
        expect(yield* circuitEvents).toEqual(["open", "closed", "open", "closed"])
      }))
    }))
})
