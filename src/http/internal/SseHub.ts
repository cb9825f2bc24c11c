/**
 * The SSE fan-out's state: the ring of encoded frames, the connected clients, and the rules
 * that move bytes from one to the other. Synchronous on purpose: Node asks a stream for more
 * data in a plain callback, and one Effect step per client per change batch is what made 50
 * SSE clients cost most of the enqueue rate. The Sse service owns the one instance and runs the
 * fibers (the live feed, each client's catch-up from the database, the sweep).
 */
import { Chunk } from "effect"
import { ChangeEvent, type Resync } from "../../domain/ChangeEvent.js"
import { FrameRing } from "./FrameRing.js"
import { type SseClient } from "./SseClient.js"
import { cursorAfter, heartbeat } from "./sseFrames.js"

export interface HubOptions {
  /** Frames the ring keeps, and their total size at most. */
  readonly capacity: number
  readonly maxBytes: number
  /** Bytes handed to a client in one push (a socket write). */
  readonly maxPush: number
  readonly encode: (e: ChangeEvent | Resync) => Uint8Array
}

interface Shared {
  readonly ring: FrameRing
  readonly start: number
  readonly end: number
  readonly cursor: number
  readonly bytes: Uint8Array
}

export class SseHub {
  /** Every connected client, following the ring or catching up. */
  readonly members = new Set<SseClient>()
  private readonly following = new Set<SseClient>()
  private ring: FrameRing | undefined = undefined
  /** The bytes of the last shared push of this flush. */
  private shared: Shared | undefined = undefined

  constructor(private readonly options: HubOptions) {}

  /**
   * A new ring, complete after `after` (the live feed starts there). Clients that followed the
   * old one catch up from the database: their positions mean nothing in the new one.
   */
  restart(after: number): FrameRing {
    this.ring = new FrameRing(after, this.options.capacity, this.options.maxBytes)
    for (const client of this.following) this.fallBehind(client)
    return this.ring
  }

  /** No live feed (no clients): nothing to keep. */
  stop(): void {
    this.ring = undefined
  }

  add(client: SseClient): void {
    this.members.add(client)
    client.onHungry = () => {
      if (client.position !== undefined) this.flush(client)
      else client.signal.unsafeOpen()
    }
  }

  remove(client: SseClient): void {
    this.members.delete(client)
    this.following.delete(client)
  }

  /** Live changes read by the feed of `ring`, each encoded once; `flushAll` hands them out. */
  append(ring: FrameRing, events: Chunk.Chunk<ChangeEvent | Resync>): void {
    if (ring !== this.ring) return // a feed being stopped, whose ring was replaced
    for (const e of events) ring.append(cursorAfter(e), e instanceof ChangeEvent ? e : undefined, this.options.encode(e))
  }

  /** Gives every follower what its socket takes of the ring. */
  flushAll(): void {
    this.shared = undefined
    for (const client of this.following) this.flush(client)
    this.shared = undefined
  }

  /**
   * Makes `client` follow the ring when the ring holds everything after its cursor. `ahead`:
   * whether a cursor past the ring's newest frame may follow (one read from the database may be
   * ahead of the live feed; a cursor from a request must first be checked against the database).
   */
  tryFollow(client: SseClient, ahead: boolean): boolean {
    const ring = this.ring
    if (ring === undefined || client.state !== "open" || client.cursor < ring.from || (!ahead && client.cursor > ring.head)) return false
    client.position = ring.positionAfter(client.cursor)
    this.following.add(client)
    this.flush(client)
    return true
  }

  /** Gives a follower frames from its position while its socket takes them, `maxPush` bytes at a time. */
  flush(client: SseClient): void {
    const ring = this.ring
    if (client.flushing || ring === undefined) return
    client.flushing = true
    try {
      while (client.hungry && client.position !== undefined) {
        let position = client.position
        if (position < ring.start) return this.fallBehind(client)
        if (position >= ring.end) return
        const shared = this.sharedFrom(ring, client, position)
        if (shared !== undefined) {
          client.cursor = shared.cursor
          client.position = shared.end
          client.push(shared.bytes)
          continue
        }
        const parts: Array<Uint8Array> = []
        let size = 0
        for (; position < ring.end && size < this.options.maxPush; position++) {
          const cursor = ring.cursorAt(position)
          if (cursor <= client.cursor) continue
          client.cursor = cursor
          if (!client.accepts(ring.eventAt(position))) continue
          const frame = ring.frameAt(position)
          parts.push(frame)
          size += frame.length
        }
        client.position = position
        if (parts.length > 0) client.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size))
      }
    } finally {
      client.flushing = false
    }
  }

  /**
   * Followers that take every entity and stand at the same position get the same bytes: they
   * are joined once per flush, not once per client. Undefined when `client` is not such a one.
   */
  private sharedFrom(ring: FrameRing, client: SseClient, position: number): Shared | undefined {
    if (!client.acceptsAll || ring.cursorAt(position) <= client.cursor) return undefined
    if (this.shared?.start === position && this.shared.ring === ring) return this.shared
    const parts: Array<Uint8Array> = []
    let size = 0
    let end = position
    for (; end < ring.end && size < this.options.maxPush; end++) {
      const frame = ring.frameAt(end)
      parts.push(frame)
      size += frame.length
    }
    this.shared = { ring, start: position, end, cursor: ring.cursorAt(end - 1), bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size) }
    return this.shared
  }

  /** The ring slid past what `client` had not taken: its driver reads the rest from the database. */
  private fallBehind(client: SseClient): void {
    this.following.delete(client)
    client.position = undefined
    client.signal.unsafeOpen()
  }

  /** A comment to every client waiting for data, so proxies keep idle connections open. */
  heartbeat(): void {
    for (const client of this.members) if (client.hungry) client.push(heartbeat)
  }

  /**
   * Ends, cleanly, each client whose socket has taken nothing for `stallMs` (it resumes with
   * Last-Event-ID when it reads again), and cuts one that has not read even its end for as
   * long after. Returns the clients it ended.
   */
  sweep(now: number, stallMs: number): ReadonlyArray<SseClient> {
    const ended: Array<SseClient> = []
    for (const client of this.members) {
      if (client.state === "open") {
        if (client.hungry) client.blockedSince = undefined
        else if (client.blockedSince === undefined) client.blockedSince = now
        else if (now - client.blockedSince >= stallMs) {
          this.end(client)
          ended.push(client)
        }
      } else if (client.state === "ending") {
        client.endingSince ??= now
        if (now - client.endingSince >= stallMs) client.cut()
      }
    }
    return ended
  }

  end(client: SseClient): void {
    this.following.delete(client)
    client.end()
  }

  endAll(): void {
    for (const client of this.members) this.end(client)
  }
}
