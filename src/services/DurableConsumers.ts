/**
 * Named durable consumers of the change feed, as Kafka's committed offsets in Herald's scale:
 * a subscription by name resumes after the offset it last committed, and a commit says how far
 * the reader has handled the feed. Reading never commits; a commit only moves forward. The
 * offsets live in consumer_offsets beside the runtime's own readers, whose names are reserved.
 * Retention does not wait for a consumer: one left behind gets the usual Resync.
 */
import { Clock, Effect, Schema, Stream } from "effect"
import type { ChangeEvent, Resync } from "../domain/ChangeEvent.js"
import { ConsumerName, DurableConsumer } from "../domain/Consumer.js"
import { decodeInput } from "../domain/decode.js"
import { ConsumerNotFound, InvalidInput, OffsetBehind } from "../domain/errors.js"
import { Broadcaster } from "../runtime/Broadcaster.js"
import { ChangeLogStore } from "../store/ChangeLogStore.js"
import { Writer } from "../store/Writer.js"

const decodeName = decodeInput(Schema.Struct({ name: ConsumerName }), "consumer")
const decodeCommit = decodeInput(Schema.Struct({ name: ConsumerName, seq: Schema.Int.pipe(Schema.nonNegative()) }), "offset commit")
const isClientName = Schema.is(ConsumerName)

/** Options of `Herald.subscribeDurable`. */
export interface DurableOptions {
  /** Where a consumer that has committed nothing yet starts (default: the newest change, so only new ones). */
  readonly after?: number | undefined
}

export class DurableConsumers extends Effect.Service<DurableConsumers>()("herald/DurableConsumers", {
  effect: Effect.gen(function* () {
    const store = yield* ChangeLogStore
    const writer = yield* Writer
    const broadcaster = yield* Broadcaster

    const newest = Effect.map(store.bounds, (b) => b.newest ?? 0)
    const toConsumer = (row: { consumer: string; seq: number; updatedAt: number }) =>
      Effect.map(store.countAfter(row.seq), (lag) => new DurableConsumer({ name: row.consumer, seq: row.seq, lag, updatedAt: row.updatedAt }))

    const get = Effect.fn("DurableConsumers.get")(function* (name: string) {
      const input = yield* decodeName({ name })
      const row = yield* store.offsetRow(input.name)
      if (row === undefined) return yield* new ConsumerNotFound({ consumer: input.name })
      return yield* toConsumer(row)
    })

    /** The clients' consumers by name; the runtime's own readers are not among them. */
    const list = Effect.fn("DurableConsumers.list")(function* () {
      const rows = yield* store.offsets
      return yield* Effect.forEach(rows.filter((r) => isClientName(r.consumer)), toConsumer)
    })

    /**
     * Records that `name` has handled every change up to `seq`. The same seq again is accepted
     * (a retried commit); an older one is OffsetBehind; one past the newest change is refused,
     * since a resume after it would silently skip changes still to come.
     */
    const commit = Effect.fn("DurableConsumers.commit")(function* (name: string, seq: number) {
      const input = yield* decodeCommit({ name, seq })
      return yield* writer.transaction(Effect.gen(function* () {
        const upTo = yield* newest
        if (input.seq > upTo) {
          return yield* new InvalidInput({ what: "offset commit", issues: [{ path: "seq", message: `${input.seq} is past the newest change, ${upTo}` }] })
        }
        const now = yield* Clock.currentTimeMillis
        const result = yield* store.commitOffset(input.name, input.seq, now)
        if (!result.moved) return yield* new OffsetBehind({ consumer: input.name, committed: result.seq, requested: input.seq })
        return yield* toConsumer({ consumer: input.name, seq: input.seq, updatedAt: now })
      }))
    })

    const remove = Effect.fn("DurableConsumers.remove")(function* (name: string) {
      const input = yield* decodeName({ name })
      if (!(yield* writer.transaction(store.deleteOffset(input.name)))) return yield* new ConsumerNotFound({ consumer: input.name })
    })

    /** Every change after the offset `name` last committed (or after `options.after`, or new ones, when it has none), then live ones. */
    const subscribe = (name: string, options: DurableOptions = {}): Stream.Stream<ChangeEvent | Resync, InvalidInput> =>
      Stream.unwrap(writer.isolate(Effect.gen(function* () {
        const input = yield* decodeName({ name })
        const stored = yield* Effect.orDie(store.offset(input.name))
        return broadcaster.subscribe(stored ?? options.after ?? (yield* Effect.orDie(newest)))
      })))

    return { get, list, commit, remove, subscribe } as const
  })
}) {}
