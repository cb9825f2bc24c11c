/**
 * The direct hand-off. Of the deliveries an enqueue transaction is creating, those for a push
 * sink this dispatcher has caught up with are created already leased to this process: one
 * write instead of an insert and a claim, and no scan.
 */
import { Effect } from "effect"
import type { Settings } from "../../domain/Settings.js"
import type { ClaimRow, NewDelivery } from "../../store/DeliveryStore.js"
import type { NotificationRow } from "../../store/NotificationStore.js"
import { rowAfter } from "../internal/transitions.js"
import { RuntimeConfig } from "../RuntimeConfig.js"
import { type Claimed, claimTransitions } from "./outcomes.js"
import type { DispatchState } from "./state.js"

/** What an enqueue creates: its rows (some leased to this process), those leased, and the effect that returns their reserved room. */
export interface HandedOff {
  readonly rows: ReadonlyArray<NewDelivery>
  readonly claimed: ReadonlyArray<Claimed>
  readonly release: Effect.Effect<void>
}

export const makeHandOff = (state: DispatchState) =>
  Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const { caughtUp, isCaughtUp, reserve, roomIn, roomOf, spendOn, pushSinks, holds } = state

    /**
     * Direct hand-off. Of the deliveries an enqueue transaction is creating, those for a push
     * sink this dispatcher has caught up with (its last claim left nothing due behind) are
     * created already leased to this process: one write instead of an insert and a claim, and
     * no scan. The caller inserts `rows` and, once committed, passes `claimed` to `adopt`;
     * until then their room is reserved, and the caller runs `release` once it has adopted them
     * or its transaction failed (a retried transaction releases before it hands off again).
     * Bookkeeping only: it writes nothing itself.
     */
    const leaseAtOnce = (
      planned: ReadonlyArray<NewDelivery>,
      notificationOf: (id: string) => NotificationRow,
      settings: Settings,
      now: number
    ): HandedOff => {
      let room = config.background ? roomIn(config.maxInFlight) : 0
      if (room <= 0 || caughtUp.size === 0) return { rows: planned, claimed: [], release: Effect.void }
      const names = new Set(pushSinks(settings).filter((name) => isCaughtUp(name, now) && !holds.isHeld(name)))
      const sinkRoom = new Map<string, number>()
      const candidates: Array<ClaimRow> = []
      for (const d of planned) {
        if (d.status !== "pending" || !names.has(d.sink)) continue
        const left = sinkRoom.get(d.sink) ?? roomOf(settings, d.sink, now)
        if (room <= 0 || left <= 0) {
          caughtUp.delete(d.sink) // this one waits as pending: later ones must queue behind it
          names.delete(d.sink)
          continue
        }
        room--
        sinkRoom.set(d.sink, left - 1)
        const n = notificationOf(d.notificationId)
        candidates.push({
          id: d.id, notificationId: d.notificationId, sink: d.sink, status: "pending", attempts: 0,
          maxAttempts: d.maxAttempts, rescues: 0, nextAttemptAt: d.nextAttemptAt, leaseOwner: null,
          leaseExpiresAt: null, lastErrorCode: null, lastError: null, externalId: null, reason: null,
          version: 0, createdAt: d.createdAt, updatedAt: d.createdAt, kind: n.kind, priority: n.priority,
          title: n.title, body: n.body, payload: n.payload, projectId: n.projectId, sessionId: n.sessionId,
          notificationCreatedAt: n.createdAt
        })
      }
      if (candidates.length === 0) return { rows: planned, claimed: [], release: Effect.void }
      // Spent now, though the enqueue may still roll back: a token lost errs on the side of the limit.
      for (const c of candidates) spendOn(c.sink, 1)
      const byId = new Map(candidates.map((c) => [c.id, c]))
      const claimed = new Map<string, Claimed>()
      for (const t of claimTransitions(candidates, config.owner, settings.leaseMs, now)) claimed.set(t.id, { ...rowAfter(byId.get(t.id)!, t), dueAt: now, heldBy: null })
      const rows = planned.map((d): NewDelivery => {
        const c = claimed.get(d.id)
        return c === undefined
          ? d
          : { ...d, status: "leased", nextAttemptAt: null, leaseOwner: c.leaseOwner, leaseExpiresAt: c.leaseExpiresAt, version: c.version }
      })
      return { rows, claimed: [...claimed.values()], release: reserve(candidates.map((c) => c.sink)) }
    }

    return { leaseAtOnce } as const
  })
