/**
 * The watchdog: cuts short the calls past their deadline (their outcome is a retryable
 * timeout), and extends the leases of calls still running after a third of the lease.
 */
import { Clock, Duration, Effect } from "effect"
import type { Settings } from "../../domain/Settings.js"
import { DeliveryStore } from "../../store/DeliveryStore.js"
import { SettingsStore } from "../../store/SettingsStore.js"
import { Writer } from "../../store/Writer.js"
import { callTimeoutMs } from "../internal/callTimeout.js"
import { RuntimeConfig } from "../RuntimeConfig.js"
import type { DispatchState } from "./state.js"

export const makeRenewing = (state: DispatchState) =>
  Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const writer = yield* Writer
    const store = yield* DeliveryStore
    const settingsStore = yield* SettingsStore
    const { watchdog, watch, inFlight, pushSinks } = state

    /** The shortest deadline any push sink's call can get: a call not yet started ends no earlier than now plus this. */
    const shortestCallTimeout = (settings: Settings) =>
      Math.min(settings.leaseMs / 2, ...pushSinks(settings).map((name) => callTimeoutMs(settings.sinks[name]!, settings.leaseMs)))

    /**
     * The watchdog: cuts short the calls past their deadline (their outcome is a retryable
     * timeout), and extends the leases of calls still running after a third of the lease.
     */
    const watchLoop = Effect.gen(function* () {
      const seen = yield* watchdog.generation
      const settings = yield* settingsStore.get
      const before = yield* Clock.currentTimeMillis
      // Leases taken under an earlier (shorter) leaseMs may expire sooner than a third of the current one.
      let wakeAt = before + Math.min(settings.leaseMs / 3, shortestCallTimeout(settings))
      for (const f of inFlight.values()) {
        if (f.fiber !== null) wakeAt = Math.min(wakeAt, f.deadline)
        if (f.row.leaseExpiresAt !== null) wakeAt = Math.min(wakeAt, before + (f.row.leaseExpiresAt - before) / 2)
      }
      watch.wakesAt = wakeAt
      yield* watchdog.waitAfter(seen, Duration.millis(Math.max(1, wakeAt - before)))
      const now = yield* Clock.currentTimeMillis
      for (const f of inFlight.values()) {
        if (f.fiber !== null && f.deadline <= now && !f.timedOut) {
          f.timedOut = true
          f.fiber.unsafeInterruptAsFork(f.fiber.id())
        }
      }
      const expiring = [...inFlight.values()].filter((f) => (f.row.leaseExpiresAt ?? 0) - now < (settings.leaseMs * 2) / 3)
      if (expiring.length === 0) return
      const expiresAt = now + settings.leaseMs
      yield* writer.transaction(store.renewLeases(expiring.map((f) => f.row.id), config.owner, expiresAt))
      for (const f of expiring) f.row = { ...f.row, leaseExpiresAt: expiresAt }
    })

    return { watchLoop } as const
  })
