/**
 * Enqueue: notifications are written and routed in one transaction for however many callers
 * are waiting (group commit), and deliveries the dispatcher can take at once are handed to it
 * (the direct hand-off). Delivering them is the Dispatcher's.
 */
import { Clock, Effect, Exit } from "effect"
import { decodeInput } from "../domain/decode.js"
import { InvalidInput } from "../domain/errors.js"
import { fastNotificationInput } from "../domain/fastNotificationInput.js"
import { type Enqueued, Notification, NotificationInput } from "../domain/Notification.js"
import { type ClaimRow, DeliveryStore } from "./DeliveryStore.js"
import { Dispatcher } from "./Dispatcher.js"
import { makeBatcher } from "./internal/Batcher.js"
import { makeId } from "./internal/ids.js"
import { NotificationStore } from "./NotificationStore.js"
import { Router } from "./Router.js"
import { SettingsStore } from "./SettingsStore.js"
import { Writer } from "./Writer.js"

const decodeNotification = decodeInput(NotificationInput, "notification")

/** A decoded input with its payload already serialized, so one bad payload cannot fail a shared batch. */
interface ReadyInput {
  readonly input: NotificationInput
  readonly payload: string
}

const serialize = (input: NotificationInput): Effect.Effect<ReadyInput, InvalidInput> => {
  let payload: string | undefined
  let why = "it must serialize to a JSON object"
  try {
    payload = JSON.stringify(input.payload)
  } catch (e) {
    why = `it cannot be serialized as JSON (${e instanceof Error ? e.message : String(e)})`
  }
  return payload !== undefined && payload.startsWith("{")
    ? Effect.succeed({ input, payload })
    : Effect.fail(new InvalidInput({ what: "notification", issues: [{ path: "payload", message: why }] }))
}

/** Decodes (the direct check first, the Schema for the rest and for the errors) and serializes. */
const ready = (input: unknown) => {
  const fast = fastNotificationInput(input)
  return fast !== undefined ? serialize(fast) : Effect.flatMap(decodeNotification(input), serialize)
}

export class Enqueuer extends Effect.Service<Enqueuer>()("herald/Enqueuer", {
  scoped: Effect.gen(function* () {
    const writer = yield* Writer
    const settingsStore = yield* SettingsStore
    const notifications = yield* NotificationStore
    const deliveries = yield* DeliveryStore
    const router = yield* Router
    const dispatcher = yield* Dispatcher

    /**
     * One enqueue transaction for a batch of inputs. Deliveries created leased are handed to
     * the dispatcher after the commit, uninterruptibly, so none is left leased and unused.
     */
    const insertNotifications = (items: ReadonlyArray<ReadyInput>) =>
      Effect.withSpan(Effect.uninterruptible(Effect.flatMap(writer.inTransaction, (nested) => writer.transaction(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const settings = yield* settingsStore.get
        const rows = items.map(({ input: i, payload }) => ({
          id: makeId("ntf", now),
          kind: i.kind,
          priority: i.priority,
          title: i.title,
          body: i.body,
          payload,
          dedupeKey: i.dedupeKey ?? null,
          projectId: i.projectId ?? null,
          sessionId: i.sessionId ?? null,
          createdAt: now,
          routedAt: settings.enabled ? now : null
        }))
        const inserted = yield* notifications.insertMany(rows)
        const fresh = rows.filter((r) => inserted.has(r.id))
        let claimed: ReadonlyArray<ClaimRow> = []
        let waiting = false
        if (settings.enabled) {
          const byId = new Map(fresh.map((r) => [r.id, r]))
          const planned = router.plan(fresh, settings, now)
          // Inside an embedder's own transaction this commit is only a savepoint: its rows may
          // still roll back, so nothing is handed to the dispatcher before they are durable.
          const handOff = nested
            ? { rows: planned, claimed: [] }
            : dispatcher.leaseAtOnce(planned, (id) => byId.get(id)!, settings, now)
          yield* deliveries.insertMany(handOff.rows)
          claimed = handOff.claimed
          waiting = handOff.rows.some((d) => d.status === "pending")
        }
        const duplicateKeys = rows.flatMap((r) => (inserted.has(r.id) || r.dedupeKey === null ? [] : [r.dedupeKey]))
        const existing = duplicateKeys.length === 0 ? [] : yield* notifications.byDedupeKeys(duplicateKeys)
        const byKey = new Map(existing.map((n) => [n.dedupeKey, n]))
        const exits = rows.map((r, i): Exit.Exit<Enqueued> => {
          if (inserted.has(r.id)) {
            return Exit.succeed({
              created: true,
              // Built from the decoded input just written: not validated again.
              notification: new Notification({ ...r, id: r.id as Notification["id"], payload: items[i]!.input.payload }, true)
            })
          }
          return Exit.succeed({ created: false, notification: byKey.get(r.dedupeKey)! })
        })
        return { exits, claimed, waiting, settings }
      }))).pipe(
        Effect.tap(({ claimed, settings }) => dispatcher.adopt(claimed, settings)),
        Effect.tap(({ waiting }) => (waiting ? dispatcher.wake : Effect.void)),
        Effect.map(({ exits }) => exits)
      )), "Enqueuer.insertNotifications", { attributes: { count: items.length } })

    const submit = yield* makeBatcher({ maxBatch: 1_000, run: insertNotifications })

    /**
     * Inside the caller's own write transaction: written there, as a savepoint. (The batcher's
     * transaction would wait for the writer the caller holds, and the caller for it.)
     */
    const insertOne = (input: ReadyInput) => Effect.flatten(Effect.map(insertNotifications([input]), (exits) => exits[0]!))

    /** One notification; concurrent callers share a transaction. Untraced: the batch it joins is traced once. */
    const enqueue = (input: unknown) =>
      Effect.flatMap(writer.inTransaction, (nested) => Effect.flatMap(ready(input), nested ? insertOne : submit))

    /** Many notifications in one transaction; a bad one fails the call with its index in each path. */
    const enqueueMany = Effect.fn("Enqueuer.enqueueMany")(function* (inputs: ReadonlyArray<unknown>) {
      const decoded = yield* Effect.forEach(inputs, (input, i) =>
        Effect.suspend(() => ready(input)).pipe(
          Effect.mapError((e) => new InvalidInput({ what: e.what, issues: e.issues.map((x) => ({ ...x, path: `${i}${x.path ? "." + x.path : ""}` })) }))
        ))
      return yield* Effect.all(yield* insertNotifications(decoded))
    })

    return { enqueue, enqueueMany } as const
  })
}) {}
