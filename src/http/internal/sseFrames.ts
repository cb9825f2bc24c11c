/** The bytes of the change feed's Server-Sent Events: one frame per change, the opening lines, the heartbeat. */
import { ChangeEvent, type Resync } from "../../domain/ChangeEvent.js"

/** `id:` is the change's sequence number, so a reconnecting client resumes after it with Last-Event-ID. */
export const encodeFrame = (e: ChangeEvent | Resync): Uint8Array =>
  Buffer.from(
    e instanceof ChangeEvent
      ? `id: ${e.seq}\nevent: change\ndata: ${JSON.stringify(e)}\n\n`
      // The id moves the client's cursor to what retention kept, so a reconnect does not resync again.
      : `id: ${e.oldestAvailable - 1}\nevent: resync\ndata: ${JSON.stringify(e)}\n\n`
  )

/** Where a frame leaves the reader: the sequence number it will resume after. */
export const cursorAfter = (e: ChangeEvent | Resync): number => (e instanceof ChangeEvent ? e.seq : e.oldestAvailable - 1)

export const opening = (retryMs: number): Uint8Array => Buffer.from(`retry: ${retryMs}\n: connected\n\n`)

export const heartbeat: Uint8Array = Buffer.from(": heartbeat\n\n")
