/**
 * In-process fan-out of change_log events. The hub is a sliding PubSub: a slow subscriber
 * loses old entries from its own buffer instead of blocking the publisher or the others,
 * and `subscribe` fills any such gap from the database, so a subscriber sees every change
 * once, in order, with no gap; where retention deleted changes it had not read, a Resync.
 */
import { Chunk, Effect, Option, PubSub, Stream } from "effect"
import { ChangeEvent, Resync } from "../domain/ChangeEvent.js"
import { ChangeLogStore } from "./ChangeLogStore.js"
import { hideForeignTransaction } from "./internal/ownTransaction.js"
import { WriterDb } from "./WriterDb.js"

const page = 1_000

export class Broadcaster extends Effect.Service<Broadcaster>()("herald/Broadcaster", {
  scoped: Effect.gen(function* () {
    const store = yield* ChangeLogStore
    // The stream runs in its consumer's context, which may hold another client's transaction.
    const own = hideForeignTransaction((yield* WriterDb).owns)
    const hub = yield* Effect.acquireRelease(PubSub.sliding<ChangeEvent>(4_096), PubSub.shutdown)

    let subscribers = 0
    const publish = (events: ReadonlyArray<ChangeEvent>) => PubSub.publishAll(hub, events)

    /** Reads [from+1, until) from the database, page by page. */
    const range = (from: number, until?: number): Stream.Stream<ChangeEvent> =>
      Stream.paginateChunkEffect(from, (cursor) =>
        Effect.orDie(own(store.after(cursor, page, until))).pipe(
          Effect.map((rows) => {
            const next = rows.length === page ? rows[rows.length - 1]!.seq : undefined
            return [Chunk.unsafeFromArray(rows), next === undefined ? Option.none() : Option.some(next)] as const
          })
        ))

    /**
     * Every change after `after`, then live ones, in order, each once. A start older than
     * what retention kept, or past the newest change, first yields a Resync (the caller
     * reloads state, then follows).
     */
    const subscribe = (after: number): Stream.Stream<ChangeEvent | Resync> =>
      Stream.unwrapScoped(Effect.gen(function* () {
        const live = yield* PubSub.subscribe(hub) // before reading the backlog, so nothing falls between
        yield* Effect.acquireRelease(Effect.sync(() => subscribers++), () => Effect.sync(() => subscribers--))
        const { oldest, newest } = yield* Effect.orDie(own(store.bounds))
        let last = after
        const head: Array<ChangeEvent | Resync> = []
        if (oldest !== null && after < oldest - 1) {
          head.push(new Resync({ requestedAfter: after, oldestAvailable: oldest }))
          last = oldest - 1
        } else if (after > (newest ?? 0)) {
          // A cursor past the newest change (the database was restored from a backup): the
          // changes the caller saw are gone. It reloads its state and follows from here.
          head.push(new Resync({ requestedAfter: after, oldestAvailable: (newest ?? 0) + 1 }))
          last = newest ?? 0
        }
        /**
         * Sequence numbers have no holes but the ones retention cuts: a hole in what the
         * database returns means rows this subscriber had not read were pruned meanwhile.
         */
        const advance = (e: ChangeEvent): ReadonlyArray<ChangeEvent | Resync> => {
          if (e.seq <= last) return []
          const out = e.seq > last + 1 ? [new Resync({ requestedAfter: last, oldestAvailable: e.seq }), e] : [e]
          last = e.seq
          return out
        }
        const backlog = Stream.suspend(() => range(last)).pipe(Stream.mapConcat(advance))
        // `last` moves in the decision itself: a filter after flatMap would run a chunk later,
        // and every entry after the first of a chunk would look like a gap.
        const follow = Stream.fromQueue(live).pipe(
          Stream.flatMap((e) => {
            if (e.seq <= last) return Stream.empty
            if (e.seq === last + 1) {
              last = e.seq
              return Stream.make(e)
            }
            // A gap: the hub slid past entries this subscriber had not read. Fill it from the database.
            return Stream.suspend(() => range(last, e.seq + 1)).pipe(Stream.mapConcat(advance))
          })
        )
        return Stream.concat(Stream.fromIterable(head), Stream.concat(backlog, follow))
      }))

    return {
      publish,
      subscribe,
      /** Whether anyone listens: with no one, the pump need not read rows (a subscriber reads its backlog itself). */
      hasSubscribers: Effect.sync(() => subscribers > 0)
    } as const
  })
}) {}
