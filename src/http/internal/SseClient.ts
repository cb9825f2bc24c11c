/**
 * One change-feed connection: a pull-driven Node Readable (the HTTP server pipes it into the
 * socket and asks for more only once the socket has drained), where the reader stands, and
 * whether it is waiting for its socket. Frames are pushed whole, so wherever the stream is cut,
 * the client's Last-Event-ID is the last change it received complete.
 */
import { Effect } from "effect"
import { Readable } from "node:stream"
import type { ChangeEvent } from "../../domain/ChangeEvent.js"
import type { ChangeFilter } from "./ChangeFilter.js"

export type ClientState = "open" | "ending" | "closed"

export class SseClient {
  readonly readable: Readable
  /** The last sequence number this client has passed: sent, or left out by its filter. */
  cursor: number
  /** Ring position of its next frame while it follows the ring; undefined while it reads from the database. */
  position: number | undefined = undefined
  /** Its socket takes more: the last push was accepted, or Node has asked for more since. */
  hungry = false
  /** When the sweep first saw it not taking more; undefined while it takes what it is given. */
  blockedSince: number | undefined = undefined
  /** When the sweep first saw it ending; a client that never reads its end is cut after a further stall interval. */
  endingSince: number | undefined = undefined
  state: ClientState = "open"
  /** Opened when its driver has work: it became hungry, fell behind the ring, or closed. */
  readonly signal = Effect.unsafeMakeLatch(false)
  /** Set by the hub: what to do when Node asks for more. */
  onHungry: () => void = () => {}
  /** Re-entrancy guard of the hub's flush: a push can make Node ask for more at once. */
  flushing = false

  constructor(
    after: number,
    private readonly filter: ChangeFilter | undefined,
    /** Cuts the connection (the socket), for a client that does not even read its end. */
    readonly cut: () => void,
    opening: Uint8Array,
    highWaterMark: number
  ) {
    this.cursor = after
    this.readable = new Readable({
      highWaterMark,
      read: () => {
        this.hungry = true
        this.blockedSince = undefined
        this.onHungry()
      }
    })
    this.readable.on("close", () => {
      this.state = "closed"
      this.signal.unsafeOpen()
    })
    // A pipeline that ends early destroys the readable with an error it reports itself.
    this.readable.on("error", () => {})
    this.readable.push(opening)
  }

  /** It has no filter. */
  get acceptsAll(): boolean {
    return this.filter === undefined
  }

  /** Whether it gets this change (undefined: a Resync, which every client gets). */
  accepts(event: ChangeEvent | undefined): boolean {
    return event === undefined || this.filter === undefined || this.filter.accepts(event)
  }

  /** Hands bytes to the socket's side; false when it wants no more for now. */
  push(bytes: Uint8Array): boolean {
    if (this.state !== "open") return false
    this.hungry = this.readable.push(bytes)
    return this.hungry
  }

  /** Ends the stream cleanly after what it was given: the client reads it to the end, then reconnects. */
  end(): void {
    if (this.state !== "open") return
    this.state = "ending"
    this.hungry = false
    this.readable.push(null)
    this.signal.unsafeOpen()
  }
}
