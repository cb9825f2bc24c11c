/**
 * change_log retention: once a minute, changes older than `changeRetentionMs` are deleted
 * in batches (short write transactions, so the writer is never held long), but only those
 * the supervisor has already published. Without it the log grows with every transition.
 */
import { Clock, Effect } from "effect"
import { ChangeLogStore } from "../store/ChangeLogStore.js"
import { inBatches, runForever } from "../lib/loops.js"
import { RuntimeConfig } from "./RuntimeConfig.js"
import { Supervisor } from "./Supervisor.js"
import { Writer } from "../store/Writer.js"

const batch = 5_000
export const pruneEveryMs = 60_000

export class Retention extends Effect.Service<Retention>()("herald/Retention", {
  scoped: Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const writer = yield* Writer
    const changes = yield* ChangeLogStore
    const supervisor = yield* Supervisor

    /** Deletes what has expired; returns how many changes it deleted. */
    const pruneOnce = Effect.fn("Retention.pruneOnce")(function* () {
      const total = yield* inBatches(batch, Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const upTo = yield* supervisor.offset
        return yield* writer.transaction(changes.prune(now - config.changeRetentionMs, upTo, batch))
      }))
      if (total > 0) yield* Effect.logInfo(`change_log retention deleted ${total} change(s)`)
      return total
    })

    if (config.background) {
      yield* Effect.forkScoped(runForever(Effect.zipRight(Effect.sleep(pruneEveryMs), pruneOnce()), "pruning change_log"))
    }
    return { pruneOnce } as const
  })
}) {}
