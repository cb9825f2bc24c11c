/**
 * Where one reader of the change feed stands (the last sequence number it was given) and the
 * rules that keep it exact: nothing twice, nothing skipped silently. Live changes come linked
 * to the change before them (`prev`), so a reader can tell it missed some whatever the engine's
 * numbering; a start older than what retention kept is told with a Resync, and so is a page
 * read after retention deleted changes this reader had not read. Owned by one stream at a time.
 */
import { Chunk } from "effect"
import { type ChangeEvent, Resync } from "../../domain/ChangeEvent.js"

/** A live change as the hub carries it: with the sequence number of the change just before it in the feed. */
export interface Linked {
  readonly prev: number
  readonly event: ChangeEvent
}

/** Changes of a live chunk that follow on at once, and where it broke: fill `(last, until)` from the database, then go on with `rest`. */
export interface Followed {
  readonly events: Chunk.Chunk<ChangeEvent>
  readonly gap: { readonly until: number; readonly rest: Chunk.Chunk<Linked> } | undefined
}

export class FeedCursor {
  constructor(public last: number) {}

  /**
   * What a reader starting here is told first. A start older than what retention kept skips to
   * the oldest change; one past the newest (a database restored from a backup: the changes the
   * reader saw are gone) skips back to the newest. Either way the reader reloads its state.
   */
  start(oldest: number | null, newest: number | null, prunedThrough: number): ReadonlyArray<Resync> {
    const requestedAfter = this.last
    if (oldest !== null && requestedAfter < prunedThrough) {
      this.last = prunedThrough
      return [new Resync({ requestedAfter, oldestAvailable: oldest })]
    }
    if (requestedAfter > (newest ?? 0)) {
      this.last = newest ?? 0
      return [new Resync({ requestedAfter, oldestAvailable: (newest ?? 0) + 1 })]
    }
    return []
  }

  /**
   * A page read from the database (ChangeLogStore.page), in order: the rows not passed yet,
   * after a Resync when retention had deleted changes past this cursor (`prunedThrough`, read
   * with the rows): the change numbered `prunedThrough` existed and this reader never got it.
   */
  advanceAll(rows: ReadonlyArray<ChangeEvent>, prunedThrough: number): Chunk.Chunk<ChangeEvent | Resync> {
    const out: Array<ChangeEvent | Resync> = []
    if (prunedThrough > this.last) {
      const next = rows.find((e) => e.seq > prunedThrough)
      out.push(new Resync({ requestedAfter: this.last, oldestAvailable: next?.seq ?? prunedThrough + 1 }))
      this.last = prunedThrough
    }
    for (const e of rows) {
      if (e.seq <= this.last) continue
      out.push(e)
      this.last = e.seq
    }
    return Chunk.unsafeFromArray(out)
  }

  /**
   * A chunk of the live hub: the changes that follow on, up to the first one that does not (the
   * hub slid past entries this reader had not read); the cursor moves over what it returns.
   * The rest is decided after the gap is filled, since the fill moves the cursor.
   */
  follow(chunk: Chunk.Chunk<Linked>): Followed {
    const events: Array<ChangeEvent> = []
    const all = Chunk.toReadonlyArray(chunk)
    for (let i = 0; i < all.length; i++) {
      const { prev, event: e } = all[i]!
      if (e.seq <= this.last) continue
      // Nothing lies between `prev` and this change: it follows on when this reader is at or past `prev`.
      if (prev > this.last) {
        return { events: Chunk.unsafeFromArray(events), gap: { until: e.seq + 1, rest: Chunk.unsafeFromArray(all.slice(i + 1)) } }
      }
      events.push(e)
      this.last = e.seq
    }
    return { events: Chunk.unsafeFromArray(events), gap: undefined }
  }
}
