/**
 * Enqueue: notifications are written and routed in one transaction for however many callers
 * are waiting (group commit), and deliveries the dispatcher can take at once are handed to it
 * (the direct hand-off). Delivering them is the Dispatcher's.
 */
import { Clock, Effect, Either, Exit } from "effect"
import { decodeInput } from "../domain/decode.js"
import { InvalidInput, Overloaded } from "../domain/errors.js"
import { fastNotificationInput } from "../domain/fastNotificationInput.js"
import { type BatchItemResult, type Enqueued, Notification, NotificationInput } from "../domain/Notification.js"
import { DeliveryStore } from "../store/DeliveryStore.js"
import { type Claimed, Dispatcher } from "../runtime/Dispatcher.js"
import { makeBatcher } from "../lib/Batcher.js"
import { makeId } from "../lib/ids.js"
import { NotificationStore } from "../store/NotificationStore.js"
import { Router } from "../runtime/Router.js"
import { RuntimeConfig } from "../runtime/RuntimeConfig.js"
import { SettingsStore } from "../store/SettingsStore.js"
import { Writer } from "../store/Writer.js"

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
    const { maxQueuedEnqueues: limit } = yield* RuntimeConfig
    /** Notifications accepted and not yet written: the bound keeps a flood from queueing in memory without end. */
    let queued = 0

    /**
     * Runs `effect` (writing `n` notifications) if the bound leaves room, else fails with
     * Overloaded before anything is accepted. A batch larger than the bound alone is let through
     * when nothing else waits: refusing it would refuse it for ever.
     */
    const admit = <A, E, R>(n: number, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | Overloaded, R> =>
      Effect.suspend((): Effect.Effect<A, E | Overloaded, R> => {
        if (queued > 0 && queued + n > limit) return Effect.fail(new Overloaded({ queued, limit, retryAfterSeconds: 1 }))
        queued += n
        return Effect.ensuring(effect, Effect.sync(() => { queued -= n }))
      })

    /**
     * One enqueue transaction for a batch of inputs. Deliveries created leased are handed to
     * the dispatcher after the commit, uninterruptibly, so none is left leased and unused.
     */
    const insertNotifications = (items: ReadonlyArray<ReadyInput>) => {
      /** The room the hand-off of this call's (latest) transaction reserved: returned once adopted, or if it failed. */
      let handedOff = { release: Effect.void }
      return Effect.withSpan(Effect.uninterruptible(Effect.flatMap(writer.inTransaction, (nested) => writer.transaction(Effect.gen(function* () {
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
        let claimed: ReadonlyArray<Claimed> = []
        let waiting = false
        if (settings.enabled) {
          const byId = new Map(fresh.map((r) => [r.id, r]))
          const planned = router.plan(fresh, settings, now)
          // Inside an embedder's own transaction this commit is only a savepoint: its rows may
          // still roll back, so nothing is handed to the dispatcher before they are durable.
          yield* handedOff.release // a transaction run again after a lost race hands off again
          const handOff = nested
            ? { rows: planned, claimed: [], release: Effect.void }
            : dispatcher.leaseAtOnce(planned, (id) => byId.get(id)!, settings, now)
          handedOff = handOff
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
        Effect.ensuring(Effect.suspend(() => handedOff.release)),
        Effect.tap(({ waiting }) => (waiting ? dispatcher.wake : Effect.void)),
        Effect.map(({ exits }) => exits)
      )), "Enqueuer.insertNotifications", { attributes: { count: items.length } })
    }

    const submit = yield* makeBatcher({ maxBatch: 1_000, run: insertNotifications })

    /**
     * Inside the caller's own write transaction: written there, as a savepoint. (The batcher's
     * transaction would wait for the writer the caller holds, and the caller for it.)
     */
    const insertOne = (input: ReadyInput) => Effect.flatten(Effect.map(insertNotifications([input]), (exits) => exits[0]!))

    /** One notification; concurrent callers share a transaction. Untraced: the batch it joins is traced once. */
    const enqueue = (input: unknown) =>
      Effect.flatMap(writer.inTransaction, (nested) =>
        Effect.flatMap(ready(input), (item) => (nested ? insertOne(item) : admit(1, submit(item)))))

    /** Many notifications in one transaction; a bad one fails the call with its index in each path. */
    const enqueueMany = Effect.fn("Enqueuer.enqueueMany")(function* (inputs: ReadonlyArray<unknown>) {
      const decoded = yield* Effect.forEach(inputs, (input, i) =>
        Effect.suspend(() => ready(input)).pipe(
          Effect.mapError((e) => new InvalidInput({ what: e.what, issues: e.issues.map((x) => ({ ...x, path: `${i}${x.path ? "." + x.path : ""}` })) }))
        ))
      const nested = yield* writer.inTransaction
      const insert = insertNotifications(decoded)
      return yield* Effect.all(yield* (nested ? insert : admit(decoded.length, insert)))
    })

    /**
     * Many notifications, each judged on its own: the valid ones are written in one transaction
     * (through the same bound as enqueueMany, so an Overloaded batch is refused whole), each bad
     * one answers its own InvalidInput. enqueueMany stays all-or-nothing for its callers.
     */
    const enqueueBatch = Effect.fn("Enqueuer.enqueueBatch")(function* (inputs: ReadonlyArray<unknown>) {
      const judged = yield* Effect.forEach(inputs, (input) => Effect.either(Effect.suspend(() => ready(input))))
      const accepted = judged.flatMap((j) => (Either.isRight(j) ? [j.right] : []))
      const nested = yield* writer.inTransaction
      const insert = insertNotifications(accepted)
      const exits = accepted.length === 0 ? [] : yield* (nested ? insert : admit(accepted.length, insert))
      let next = 0
      const results: Array<BatchItemResult> = []
      for (const [index, j] of judged.entries()) {
        if (Either.isLeft(j)) results.push({ _tag: "Rejected", index, error: j.left })
        else results.push({ _tag: "Enqueued", index, ...(yield* exits[next++]!) })
      }
      return results
    })

    return { enqueue, enqueueMany, enqueueBatch } as const
  })
}) {}
