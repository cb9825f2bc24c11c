/**
 * In-process fan-out of change_log events. The hub is a sliding PubSub: a slow subscriber
 * loses old entries from its own buffer instead of blocking the publisher or the others,
 * and `subscribe` fills any such gap from the database, so a subscriber sees every change
 * once, in order, with no gap; where retention deleted changes it had not read, a Resync.
 */
import { Chunk, Effect, Option, PubSub, Stream } from "effect"
import { ChangeEvent, Resync } from "../domain/ChangeEvent.js"
import { ChangeLogStore } from "../store/ChangeLogStore.js"
import { FeedCursor, type Linked } from "./internal/FeedCursor.js"
import { Writer } from "../store/Writer.js"

const pageSize = 1_000

export class Broadcaster extends Effect.Service<Broadcaster>()("herald/Broadcaster", {
  scoped: Effect.gen(function* () {
    const store = yield* ChangeLogStore
    // The stream runs in its consumer's context, which may hold another client's transaction.
    const own = (yield* Writer).isolate
    const hub = yield* Effect.acquireRelease(PubSub.sliding<Linked>(4_096), PubSub.shutdown)

    let subscribers = 0
    /** Publishes changes read in order right after the change `after`: each goes out linked to the one before it. */
    const publish = (events: ReadonlyArray<ChangeEvent>, after: number) =>
      PubSub.publishAll(hub, events.map((event, i) => ({ prev: i === 0 ? after : events[i - 1]!.seq, event })))

    /**
     * What `cursor` has not passed yet in [cursor+1, until), from the database page by page,
     * each page with a Resync first when retention deleted changes the cursor had not passed.
     */
    const range = (cursor: FeedCursor, until?: number): Stream.Stream<ChangeEvent | Resync> =>
      Stream.paginateChunkEffect(undefined, () =>
        Effect.orDie(own(store.page(cursor.last, pageSize, until))).pipe(
          Effect.map(({ rows, prunedThrough }) => {
            const out = cursor.advanceAll(rows, prunedThrough)
            return [out, rows.length === pageSize ? Option.some(undefined) : Option.none()] as const
          })
        ))

    /** A cursor after `after`, and what to say first when the database cannot serve it (retention, a restore). */
    const open = (after: number) =>
      Effect.map(Effect.orDie(own(store.bounds)), ({ oldest, newest, prunedThrough }) => {
        const cursor = new FeedCursor(after)
        return { cursor, head: cursor.start(oldest, newest, prunedThrough) }
      })

    /**
     * Every change after `after` in the database now, read page by page (one Chunk a page), with
     * the Resyncs of `subscribe`; it ends at the newest change. For a reader that follows the
     * live changes some other way once it has caught up (the SSE fan-out).
     */
    const history = (after: number): Stream.Stream<ChangeEvent | Resync> =>
      Stream.unwrap(Effect.map(open(after), ({ cursor, head }) => Stream.concat(Stream.fromIterable(head), range(cursor))))

    /**
     * Every change after `after`, then live ones, in order, each once. A start older than
     * what retention kept, or past the newest change, first yields a Resync (the caller
     * reloads state, then follows).
     */
    const subscribe = (after: number): Stream.Stream<ChangeEvent | Resync> =>
      Stream.unwrapScoped(Effect.gen(function* () {
        const live = yield* PubSub.subscribe(hub) // before reading the backlog, so nothing falls between
        yield* Effect.acquireRelease(Effect.sync(() => subscribers++), () => Effect.sync(() => subscribers--))
        const { cursor, head } = yield* open(after)
        // One decision per chunk of the hub, not one inner stream per change: with many
        // subscribers, per-change stream steps cost more than the writes they announce.
        const followChunk = (chunk: Chunk.Chunk<Linked>): Stream.Stream<ChangeEvent | Resync> => {
          const { events, gap } = cursor.follow(chunk)
          if (gap === undefined) return Stream.fromChunk(events)
          // A gap: the hub slid past entries this subscriber had not read. Fill it from the database.
          const fill = Stream.suspend(() => range(cursor, gap.until))
          return Stream.concat(Stream.fromChunk(events), Stream.concat(fill, Stream.suspend(() => followChunk(gap.rest))))
        }
        const follow = Stream.chunks(Stream.fromQueue(live)).pipe(Stream.flatMap(followChunk))
        return Stream.concat(Stream.fromIterable(head), Stream.concat(range(cursor), follow))
      }))

    return {
      publish,
      subscribe,
      history,
      /** Whether anyone listens: with no one, the pump need not read rows (a subscriber reads its backlog itself). */
      hasSubscribers: Effect.sync(() => subscribers > 0)
    } as const
  })
}) {}
