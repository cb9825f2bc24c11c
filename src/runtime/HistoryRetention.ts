/**
 * History retention: a notification whose deliveries are all over (sent, skipped or cancelled)
 * is deleted, with its deliveries and attempt rows, `historyRetentionMs` after the last of them
 * finished. A dead-lettered, waiting or leased delivery keeps its notification until it is over.
 * Without this the tables grow with every notification ever sent.
 *
 * Once a minute a sweep walks notifications in id order (ids grow with time) in short write
 * transactions, from where the last step stopped, until it reaches ones too recent to go; then
 * the next sweep starts again from the oldest, so a dead letter requeued and sent later goes too.
 */
import { Clock, Effect, Ref } from "effect"
import { HistoryStore } from "../store/HistoryStore.js"
import { runForever } from "../lib/loops.js"
import { pruneEveryMs } from "./Retention.js"
import { RuntimeConfig } from "./RuntimeConfig.js"
import { Writer } from "../store/Writer.js"

/** Notifications examined per write transaction. */
const batch = 500

export class HistoryRetention extends Effect.Service<HistoryRetention>()("herald/HistoryRetention", {
  scoped: Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const writer = yield* Writer
    const history = yield* HistoryStore
    const cursor = yield* Ref.make("")

    /** Runs sweep steps until the sweep is over; returns how many notifications it deleted. */
    const pruneOnce = Effect.fn("HistoryRetention.pruneOnce")(function* () {
      if (config.historyRetentionMs === 0) return 0
      let total = 0
      for (;;) {
        const before = (yield* Clock.currentTimeMillis) - config.historyRetentionMs
        const step = yield* writer.transaction(history.sweep(yield* Ref.get(cursor), before, batch))
        total += step.deleted
        yield* Ref.set(cursor, step.done ? "" : step.cursor)
        if (step.done) break
        // Long first sweeps (a large old database) say how far they are.
        if (total > 0 && total % 50_000 < step.deleted) yield* Effect.logInfo(`history retention: ${total} notification(s) deleted so far`)
      }
      if (total > 0) yield* Effect.logInfo(`history retention deleted ${total} finished notification(s) and their deliveries`)
      return total
    })

    if (config.background && config.historyRetentionMs > 0) {
      yield* Effect.forkScoped(runForever(Effect.zipRight(Effect.sleep(pruneEveryMs), pruneOnce()), "pruning finished history"))
    }
    return { pruneOnce } as const
  })
}) {}
