/**
 * The supervising fibers: pumps change_log (after its stored offset) into the Broadcaster,
 * wakes the dispatcher when another process wrote, rescues expired leases as failed attempts
 * with the normal backoff, and routes notifications that waited while routing was off. Sleeps until the next lease expiry or
 * the next commit instead of busy polling.
 */
import { Clock, Duration, Effect } from "effect"
import { supervisorConsumer } from "../domain/Consumer.js"
import { IllegalTransition } from "../domain/errors.js"
import type { DeliveryEvent } from "../machines/delivery.js"
import { step } from "../machines/delivery.js"
import { Broadcaster } from "./Broadcaster.js"
import { ChangeLogStore } from "../store/ChangeLogStore.js"
import { Circuits } from "./Circuits.js"
import { DeliveryStore, type Transition } from "../store/DeliveryStore.js"
import { Dispatcher } from "./Dispatcher.js"
import { runForever } from "../lib/loops.js"
import { contextOf, toTransition } from "./internal/transitions.js"
import { leaseExpiredFailure, RetrySchedules } from "./RetrySchedules.js"
import { Router } from "./Router.js"
import { RuntimeConfig } from "./RuntimeConfig.js"
import { SettingsStore } from "../store/SettingsStore.js"
import { Writer } from "../store/Writer.js"

const consumer = supervisorConsumer
const feedPage = 2_000

export class Supervisor extends Effect.Service<Supervisor>()("herald/Supervisor", {
  scoped: Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const writer = yield* Writer
    const deliveries = yield* DeliveryStore
    const changes = yield* ChangeLogStore
    const broadcaster = yield* Broadcaster
    const settingsStore = yield* SettingsStore
    const router = yield* Router
    const dispatcher = yield* Dispatcher
    const retrySchedules = yield* RetrySchedules
    const circuits = yield* Circuits

    /** One rescue pass: every expired lease becomes LEASE_EXPIRED (a failed attempt with backoff). */
    const rescueExpired = Effect.fn("Supervisor.rescueExpired")(function* () {
      // Checked on the reader first: an idle runtime takes no write lock once a second for nothing.
      const next = yield* deliveries.nextLeaseExpiry
      if (next === null || next > (yield* Clock.currentTimeMillis)) return 0
      const settings = yield* settingsStore.get
      return yield* writer.transaction(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* deliveries.expired(now, 500)
        const transitions: Array<Transition> = []
        for (const row of rows) {
          const attempt = row.attempts + 1
          const maxRescues = retrySchedules.maxRescuesOf(settings, row.sink)
          // Not stepped when the rescue ends the delivery anyway (budget or poison limit reached).
          const delayMs = attempt < row.maxAttempts && row.rescues + 1 < maxRescues
            ? yield* retrySchedules.delayOf(settings, row.sink, row.id, attempt, leaseExpiredFailure)
            : null
          const event: DeliveryEvent = { type: "LEASE_EXPIRED", now, delayMs, maxRescues }
          const s = step(row.status, contextOf(row), event)
          if (!(s instanceof IllegalTransition)) transitions.push(toTransition(row, s, now, row.leaseOwner))
        }
        const written = yield* deliveries.persist(transitions)
        // A half-open circuit's probe lost with its process reopens the circuit (no outcome will come).
        yield* circuits.probesLost(settings, rows.filter((r) => written.has(r.id)), now)
        if (written.size > 0) {
          yield* Effect.logInfo(`rescued ${written.size} expired lease(s)`)
        }
        return rows.length
      })).pipe(Effect.tap((n) => (n > 0 ? dispatcher.wake : Effect.void)))
    })

    const rescueLoop = Effect.gen(function* () {
      const found = yield* rescueExpired()
      if (found === 500) return
      const settings = yield* settingsStore.get
      const next = yield* deliveries.nextLeaseExpiry
      const now = yield* Clock.currentTimeMillis
      // A lease taken after this read may be shorter than the setting (the claim API takes leaseMs):
      // never sleep more than a second past what is known.
      const wait = Math.max(1, Math.min(1_000, settings.leaseMs, next === null ? Infinity : next - now + 1))
      yield* Effect.sleep(Duration.millis(wait))
    })

    let offset = (yield* Effect.orDie(changes.offset(consumer))) ?? (yield* Effect.orDie(changes.bounds)).newest ?? 0
    let savedAt = 0
    let savedOffset = offset
    /** A settings change was read but not yet applied: stays set until reload and routing succeed. */
    let settingsDirty = false

    /** Reads new change_log rows, publishes them, reloads settings another process changed. */
    /** Moves the offset over new changes (publishing them to subscribers); how many were published. */
    const advance = Effect.gen(function* () {
      if (yield* broadcaster.hasSubscribers) {
        const rows = yield* changes.after(offset, feedPage)
        if (rows.length === 0) return 0
        yield* broadcaster.publish(rows, offset)
        offset = rows[rows.length - 1]!.seq
        if (rows.some((r) => r.entity === "settings")) settingsDirty = true
        return rows.length
      }
      const summary = yield* changes.summaryAfter(offset)
      if (summary.newest === null) return 0
      // A subscriber that arrived meanwhile may have read its backlog only up to before these: publish them next pass.
      if (yield* broadcaster.hasSubscribers) return 0
      offset = summary.newest
      if (summary.settings !== null) settingsDirty = true
      return 0 // caught up in one step
    })

    const pumpOnce = Effect.fn("Supervisor.pumpOnce")(function* () {
      const count = yield* advance
      if (yield* writer.othersCommitted) yield* dispatcher.wake
      // The offset has moved past a settings change before it is applied: if applying it fails,
      // every later pass tries again, new changes or not.
      if (settingsDirty) {
        yield* settingsStore.reload()
        const settings = yield* settingsStore.get
        yield* router.routeWaiting(settings)
        yield* router.skipRemoved(settings)
        yield* dispatcher.wake
        settingsDirty = false
      }
      const now = yield* Clock.currentTimeMillis
      if (offset !== savedOffset && now - savedAt >= 1_000) {
        yield* writer.transaction(changes.saveOffset(consumer, offset, now))
        savedAt = now
        savedOffset = offset
      }
      return count
    })

    const pumpLoop = Effect.gen(function* () {
      const seen = yield* writer.committed.generation
      const n = yield* pumpOnce()
      // Commits in this process wake the pump at once; other processes' writes are seen within feedPollMs.
      if (n < feedPage) yield* writer.committed.waitAfter(seen, Duration.millis(config.feedPollMs))
    })

    if (config.background) {
      // Added before the loops are forked, so it runs after they are interrupted: the offset saved is the last one.
      yield* Effect.addFinalizer(() =>
        Clock.currentTimeMillis.pipe(
          Effect.flatMap((now) => writer.transaction(changes.saveOffset(consumer, offset, now))),
          Effect.ignoreLogged
        )
      )
      // Notifications that waited while routing was off (or before a crash) get their deliveries now.
      // Deliveries of sinks removed while no process applied it (a crash between the settings write and the sweep) are set aside.
      const settings = yield* settingsStore.get
      const changed = (yield* router.routeWaiting(settings).pipe(Effect.orDie)) + (yield* router.skipRemoved(settings).pipe(Effect.orDie))
      if (changed > 0) yield* dispatcher.wake
      yield* Effect.forkScoped(runForever(rescueLoop, "rescuing expired leases"))
      yield* Effect.forkScoped(runForever(pumpLoop, "pumping the change feed"))
    }

    return { rescueExpired, pumpOnce, offset: Effect.sync(() => offset) } as const
  })
}) {}
