/**
 * Operator commands on deliveries: requeue (one, many by id, or every match of a filter) and
 * cancel. Each is one pure machine step per row, fenced and written in one transaction.
 */
import { Clock, Effect } from "effect"
import { Delivery, type DeliveryStatus } from "../domain/Delivery.js"
import { DeliveryNotFound, IllegalTransition, InvalidInput, StaleWrite } from "../domain/errors.js"
import { retryOf, type Settings } from "../domain/Settings.js"
import { type DeliveryEvent, step } from "../machines/delivery.js"
import { DeliveryStore } from "../store/DeliveryStore.js"
import { Dispatcher } from "../runtime/Dispatcher.js"
import { toDelivery } from "../store/domainRows.js"
import { contextOf, rowAfter, toTransition } from "../runtime/internal/transitions.js"
import { SettingsStore } from "../store/SettingsStore.js"
import { Writer } from "../store/Writer.js"

export interface RequeueReport {
  readonly requested: number
  readonly requeued: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly id: string; readonly code: string; readonly reason: string }>
}

/**
 * Which deliveries a bulk requeue takes: these ids, or every match of a filter (dead ones by
 * default). A filter with neither status nor sink takes every dead delivery, so it must say
 * `all: true`: an empty object from a script's missing variable must not requeue them all.
 */
export type RequeueSelector =
  | { readonly ids: ReadonlyArray<string> }
  | { readonly status?: DeliveryStatus; readonly sink?: string; readonly limit?: number; readonly all?: boolean }

const emptyFilter = new InvalidInput({
  what: "requeue selector",
  issues: [{ path: "all", message: "a filter with neither status nor sink takes every dead delivery: name a status or a sink, give ids, or send all: true to mean it" }]
})

type Result = Delivery | DeliveryNotFound | IllegalTransition | StaleWrite

const single = (id: string, results: Map<string, Result>) => {
  const result = results.get(id)!
  return result instanceof Delivery ? Effect.succeed(result) : Effect.fail(result)
}

const report = (ids: ReadonlyArray<string>, results: Map<string, Result>): RequeueReport => {
  const failed = ids.flatMap((id) => {
    const r = results.get(id)!
    return r instanceof Delivery ? [] : [{ id, code: r._tag, reason: r.message }]
  })
  return { requested: ids.length, requeued: ids.filter((id) => results.get(id) instanceof Delivery), failed }
}

export class OperatorCommands extends Effect.Service<OperatorCommands>()("herald/OperatorCommands", {
  effect: Effect.gen(function* () {
    const writer = yield* Writer
    const settingsStore = yield* SettingsStore
    const deliveries = yield* DeliveryStore
    const dispatcher = yield* Dispatcher

    /** Applies one operator event to rows (in the caller's transaction); one result per id. */
    const apply = (ids: ReadonlyArray<string>, eventOf: (now: number, s: Settings, sink: string) => DeliveryEvent) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const settings = yield* settingsStore.get
        const rows = new Map((yield* deliveries.byIds(ids)).map((r) => [r.id, r]))
        const results = new Map<string, Result>()
        const transitions = []
        for (const id of ids) {
          const row = rows.get(id)
          if (row === undefined) {
            results.set(id, new DeliveryNotFound({ deliveryId: id }))
            continue
          }
          const event = eventOf(now, settings, row.sink)
          if (event.type === "REQUEUE" && settings.sinks[row.sink] === undefined) {
            // Requeued, it would wait for a sink nobody delivers to.
            results.set(id, new IllegalTransition({
              state: row.status, event: "REQUEUE", deliveryId: id as Delivery["id"],
              reason: `sink '${row.sink}' is not in the settings: add it back, then requeue`
            }))
            continue
          }
          const s = step(row.status, contextOf(row), event)
          if (s instanceof IllegalTransition) {
            results.set(id, new IllegalTransition({ ...s, deliveryId: id as Delivery["id"] }))
            continue
          }
          const t = toTransition(row, s, now, null)
          transitions.push(t)
          results.set(id, toDelivery(rowAfter(row, t)))
        }
        const written = yield* deliveries.persist(transitions)
        for (const t of transitions) {
          if (!written.has(t.id)) results.set(t.id, new StaleWrite({ deliveryId: t.id as Delivery["id"], reason: "changed during the operation; try again" }))
        }
        return results
      })

    // A fresh budget is the sink's own maxAttempts where it has one.
    const requeueEvent = (now: number, s: Settings, sink: string): DeliveryEvent => ({ type: "REQUEUE", now, maxAttempts: retryOf(s, sink).maxAttempts })

    const requeue = Effect.fn("OperatorCommands.requeue")(function* (id: string) {
      const results = yield* writer.transaction(apply([id], requeueEvent))
      yield* dispatcher.wake
      return yield* single(id, results)
    })

    /** Requeues by ids, or every delivery matching a filter: a report, not all-or-nothing. */
    const requeueMany = Effect.fn("OperatorCommands.requeueMany")(function* (selector: RequeueSelector) {
      if (!("ids" in selector) && selector.status === undefined && selector.sink === undefined && selector.all !== true) {
        return yield* emptyFilter
      }
      const result = yield* writer.transaction(Effect.gen(function* () {
        const ids = "ids" in selector
          ? [...new Set(selector.ids)]
          : yield* deliveries.idsWhere({ status: selector.status ?? "dead", sink: selector.sink }, selector.limit ?? 1_000)
        return report(ids, yield* apply(ids, requeueEvent))
      }))
      yield* dispatcher.wake
      return result
    })

    const cancel = Effect.fn("OperatorCommands.cancel")(function* (id: string, reason = "cancelled by an operator") {
      return yield* single(id, yield* writer.transaction(apply([id], (now) => ({ type: "CANCEL", now, reason }))))
    })

    return { requeue, requeueMany, cancel } as const
  })
}) {}
