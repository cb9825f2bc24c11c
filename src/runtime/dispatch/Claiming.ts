/**
 * Claiming: one transaction takes the due deliveries of the push sinks that have room (their
 * concurrency, rate limit and circuit allow), leases them, and hands them to the calls; between
 * claims the loop sleeps until the next due time, token, cooldown's end or new work.
 */
import { Clock, Duration, Effect } from "effect"
import { circuitPolicyOf, concurrencyOf, type Settings } from "../../domain/Settings.js"
import { nextTurn } from "../../lib/Batcher.js"
import { DeliveryStore } from "../../store/DeliveryStore.js"
import { SettingsStore } from "../../store/SettingsStore.js"
import { Writer } from "../../store/Writer.js"
import { Circuits } from "../Circuits.js"
import { rowAfter } from "../internal/transitions.js"
import { RuntimeConfig } from "../RuntimeConfig.js"
import { type Claimed, claimTransitions } from "./outcomes.js"
import type { DispatchState } from "./state.js"

export const makeClaiming = (state: DispatchState, adopt: (claimed: ReadonlyArray<Claimed>, settings: Settings) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const writer = yield* Writer
    const store = yield* DeliveryStore
    const settingsStore = yield* SettingsStore
    const circuits = yield* Circuits
    const { work, freed, inHand, roomOf, spendOn, nextTokenOf, caughtUp, pushSinks, holds } = state

    /** One claim transaction over the push sinks; returns the leased rows. */
    const claimDue = Effect.fn("Dispatcher.claimDue")(function* (settings: Settings, names: ReadonlyArray<string>, room: number) {
      return yield* writer.transaction(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const perSink = Math.max(1, Math.ceil(Math.min(room, config.claimBatch) / names.length))
        const claimed: Array<Claimed> = []
        // Without a breaker in the settings and no circuit held, there is nothing to read: the hot path stays one query shorter.
        if (holds.anyHeld() || Object.values(settings.sinks).some((c) => circuitPolicyOf(c) !== null)) {
          holds.sync(yield* circuits.admissions(settings, now))
        }
        for (const name of names) {
          const gate = holds.gateOf(name)
          if (gate === "hold") {
            // An open circuit (or a probe in flight): its due deliveries wait, spending no attempt.
            holds.note(name, "circuit_open", now)
            caughtUp.delete(name)
            continue
          }
          const wanted = Math.min(perSink, concurrencyOf(settings.sinks[name]) - (inHand.get(name) ?? 0))
          const take = Math.min(gate === "probe" ? 1 : perSink, roomOf(settings, name, now))
          const rateBound = take < wanted
          if (take <= 0) {
            // At its concurrency or rate: due deliveries may be waiting, so new ones must queue behind them.
            if (rateBound) holds.note(name, "rate_limited", now)
            caughtUp.delete(name)
            continue
          }
          const rows = yield* store.due(name, now, take)
          if (gate === "probe") {
            caughtUp.delete(name)
            if (rows.length === 0) continue
            // Half open: this one delivery is the probe; a refusal (another process took one) claims nothing.
            const taken = yield* circuits.takeProbe(name, rows[0]!.id, now)
            holds.probeTaken(name)
            if (!taken) continue
          }
          if (rows.length > 0) {
            const transitions = claimTransitions(rows, config.owner, settings.leaseMs, now)
            const written = yield* store.persist(transitions)
            const byId = new Map(rows.map((r) => [r.id, r]))
            for (const t of transitions) {
              const before = byId.get(t.id)!
              const dueAt = before.nextAttemptAt ?? now
              if (written.has(t.id)) claimed.push({ ...rowAfter(before, t), dueAt, heldBy: holds.heldByOf(name, dueAt) })
            }
            spendOn(name, written.size)
          }
          // The rate limit cut this claim short: what is still due waits for tokens.
          if (rateBound && gate !== "probe" && rows.length === take) holds.note(name, "rate_limited", now)
          if (gate === "probe") continue
          // Caught up: what still waits for this sink is due later (read after the claim, in its transaction).
          if (rows.length < take) caughtUp.set(name, (yield* store.nextDueAtOf(name)) ?? Infinity)
          else caughtUp.delete(name)
        }
        return claimed
      }))
    })


    /**
     * Sleeps until the earliest due time of the push sinks that have room (or until `wakeAt`, when
     * a rate-limited sink gets a token), or until new work is announced; with some sinks at their
     * concurrency, also until a call of theirs settles.
     */
    const idle = (names: ReadonlyArray<string>, seen: number, freedSeen: number, someFull: boolean, wakeAt: number) =>
      Effect.gen(function* () {
        const next = Math.min((yield* Effect.orDie(store.nextDueAt(names))) ?? Infinity, wakeAt)
        const now = yield* Clock.currentTimeMillis
        const wait = Duration.millis(next === Infinity ? 60_000 : Math.max(1, Math.min(60_000, next - now)))
        yield* someFull ? Effect.raceFirst(work.waitAfter(seen, wait), freed.waitAfter(freedSeen, wait)) : work.waitAfter(seen, wait)
      })

    const claimLoop = Effect.gen(function* () {
      const seen = yield* work.generation
      const freedSeen = yield* freed.generation
      const settings = yield* settingsStore.get
      const all = pushSinks(settings)
      const room = state.roomIn(config.maxInFlight)
      if (all.length === 0) return yield* work.waitAfter(seen, "60 seconds")
      const now = yield* Clock.currentTimeMillis
      const names = all.filter((name) => roomOf(settings, name, now) > 0)
      const tokenAt = nextTokenOf(settings, all, now)
      if (room <= 0 || names.length === 0) {
        // Nothing may be taken in hand until a call settles or a token comes; a settings change (a higher limit) is work too.
        for (const name of all) caughtUp.delete(name)
        const wait = Duration.millis(Math.max(1, Math.min(1_000, tokenAt - now)))
        return yield* Effect.raceFirst(freed.waitAfter(freedSeen, wait), work.waitAfter(seen, wait))
      }
      for (const name of all) if (!names.includes(name)) caughtUp.delete(name)
      yield* nextTurn // let the enqueues already under way commit, so one claim takes them together
      // Uninterruptible from claim to hand-off: rows claimed at shutdown are delivered, not orphaned as leased.
      const claimed = yield* Effect.uninterruptible(Effect.tap(claimDue(settings, names, room), (rows) => adopt(rows, settings)))
      // A sink its circuit holds is not waited on (its deliveries are due but may not go): the loop wakes at the cooldown's end.
      const open = names.filter((name) => !holds.isHeld(name) || holds.gateOf(name) === "probe")
      if (claimed.length === 0) yield* idle(open, seen, freedSeen, open.length < all.length, Math.min(tokenAt, holds.probeAt()))
    })

    return { claimDue, claimLoop } as const
  })
