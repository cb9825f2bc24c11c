/**
 * The newest encoded change-feed frames, shared by every SSE client that follows the feed:
 * each change is encoded once, and a client is only a position in here. Bounded by count and
 * bytes; a client that falls behind the oldest entry reads from the database instead.
 */
import type { ChangeEvent } from "../../domain/ChangeEvent.js"

export class FrameRing {
  private readonly cursors: Array<number>
  private readonly events: Array<ChangeEvent | undefined>
  private readonly frames: Array<Uint8Array | undefined>
  /** Absolute positions: entries are [first, next). */
  private first = 0
  private next = 0
  private bytes = 0
  /** Every change after `from` is here, up to `head`: a reader past `from` can follow the ring. */
  from: number
  head: number

  constructor(after: number, private readonly capacity: number, private readonly maxBytes: number) {
    this.from = after
    this.head = after
    this.cursors = new Array(capacity)
    this.events = new Array(capacity)
    this.frames = new Array(capacity)
  }

  get start(): number {
    return this.first
  }

  get end(): number {
    return this.next
  }

  /**
   * A frame that moves its reader to `cursor` (a change's seq, or where a Resync leaves it);
   * `event` is what a filter looks at, undefined for a Resync, which every reader gets.
   */
  append(cursor: number, event: ChangeEvent | undefined, frame: Uint8Array): void {
    while (this.next > this.first && (this.next - this.first >= this.capacity || this.bytes + frame.length > this.maxBytes)) {
      const i = this.first % this.capacity
      this.from = this.cursors[i]!
      this.bytes -= this.frames[i]!.length
      this.frames[i] = undefined // let the bytes go now, not when the slot is reused
      this.events[i] = undefined
      this.first++
    }
    const i = this.next % this.capacity
    this.cursors[i] = cursor
    this.events[i] = event
    this.frames[i] = frame
    this.bytes += frame.length
    this.next++
    this.head = cursor
  }

  /** The first position whose frame moves a reader past `cursor` (`end` when none); `cursor` must be at least `from`. */
  positionAfter(cursor: number): number {
    let lo = this.first
    let hi = this.next
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.cursors[mid % this.capacity]! > cursor) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  cursorAt(position: number): number {
    return this.cursors[position % this.capacity]!
  }

  eventAt(position: number): ChangeEvent | undefined {
    return this.events[position % this.capacity]
  }

  frameAt(position: number): Uint8Array {
    return this.frames[position % this.capacity]!
  }
}
