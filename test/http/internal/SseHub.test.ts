import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { ChangeEvent, Resync } from "../../../src/domain/ChangeEvent.js"
import { ChangeFilter } from "../../../src/http/internal/ChangeFilter.js"
import { SseClient } from "../../../src/http/internal/SseClient.js"
import { encodeFrame, opening } from "../../../src/http/internal/sseFrames.js"
import { SseHub } from "../../../src/http/internal/SseHub.js"
import { Chunk } from "effect"

const entities = ["notification", "delivery"] as const
const change = (seq: number, entity: string = "delivery") =>
  new ChangeEvent({ seq, entity, entityId: `dlv_${seq}`, event: "created", payload: { title: "x".repeat(seq % 200) }, createdAt: 0 })

const hubOf = (capacity: number, maxPush = 4_096) => {
  let encoded = 0
  const hub = new SseHub({
    capacity,
    maxBytes: 64 * 1024 * 1024,
    maxPush,
    encode: (e) => (encoded++, encodeFrame(e))
  })
  return { hub, encoded: () => encoded }
}

const clientAt = (after: number, filter?: ReadonlySet<string>, highWaterMark = 1_024) =>
  new SseClient(after, filter === undefined ? undefined : ChangeFilter.of({ entities: filter }), () => {}, opening(2_000), highWaterMark)

/** Reads what the client's stream holds (Node asks the hub for more as it is read). */
const read = (client: SseClient): string => {
  const parts: Array<Buffer> = []
  for (let b: Buffer | null; (b = client.readable.read() as Buffer | null) !== null;) parts.push(b)
  return Buffer.concat(parts).toString()
}

const idsIn = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))

describe("SSE fan-out", () => {
  it("each change is encoded once, however many clients follow the feed, and each client gets all of them", () => {
    const { hub, encoded } = hubOf(4_096)
    const ring = hub.restart(0)
    const clients = Array.from({ length: 20 }, () => clientAt(0))
    for (const c of clients) {
      hub.add(c)
      expect(hub.tryFollow(c, false)).toBe(true)
    }
    const received = clients.map((c) => read(c))
    for (let seq = 1; seq <= 500; seq += 10) {
      hub.append(ring, Chunk.range(seq, seq + 9).pipe(Chunk.map((s) => change(s))))
      hub.flushAll()
      clients.forEach((c, i) => (received[i] += read(c)))
    }
    expect(encoded()).toBe(500)
    for (const text of received) expect(idsIn(text)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
  })

  it("a client that stops reading is given no more than its buffer and one push, however many changes pass", () => {
    const { hub } = hubOf(4_096, 4_096)
    const ring = hub.restart(0)
    const slow = clientAt(0, undefined, 1_024)
    hub.add(slow)
    hub.tryFollow(slow, false)
    const before = read(slow) // it reads the opening lines, then nothing more
    const largestFrame = encodeFrame(change(199)).length
    for (let seq = 1; seq <= 20_000; seq += 100) {
      hub.append(ring, Chunk.range(seq, seq + 99).pipe(Chunk.map((s) => change(s))))
      hub.flushAll()
      // Pushed only while under its buffer, and a push stops at the first frame that reaches 4,096 bytes.
      expect(slow.readable.readableLength).toBeLessThan(1_024 + 4_096 + largestFrame)
    }
    // The ring slid past it: reading again, it is handed to its catch-up exactly where its bytes end.
    const after = read(slow)
    expect(slow.position).toBeUndefined()
    const got = idsIn(before + after)
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 1))
    expect(slow.cursor).toBe(got[got.length - 1])
    expect(slow.hungry).toBe(true)
  })

  it("a client resuming ahead of the feed, or from before the ring, is not made to follow it", () => {
    const { hub } = hubOf(8)
    const ring = hub.restart(100)
    hub.append(ring, Chunk.range(101, 120).pipe(Chunk.map((s) => change(s))))
    const early = clientAt(105)
    const ahead = clientAt(500)
    hub.add(early)
    hub.add(ahead)
    expect(hub.tryFollow(early, true)).toBe(false) // 106..112 left the ring: the database has them
    expect(hub.tryFollow(ahead, false)).toBe(false) // past the newest: checked against the database first
    expect(hub.tryFollow(ahead, true)).toBe(true)
    read(ahead)
    hub.append(ring, Chunk.make(change(121)))
    hub.flushAll()
    expect(idsIn(read(ahead))).toEqual([]) // nothing after 500 yet
  })

  it("for any interleaving of changes, holes, reads and filters, a client gets each change after its start once, in order, and its cursor is where its bytes end", () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant("append" as const), n: fc.integer({ min: 1, max: 40 }), entity: fc.constantFrom(...entities) }),
      fc.record({ kind: fc.constant("hole" as const), skip: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant("read" as const), client: fc.nat(2) }),
      fc.constant({ kind: "flush" as const })
    )
    const setup = fc.array(fc.record({ start: fc.nat(30), filter: fc.option(fc.constantFrom(...entities), { nil: undefined }) }), { minLength: 3, maxLength: 3 })
    fc.assert(fc.property(setup, fc.array(step, { maxLength: 80 }), fc.integer({ min: 8, max: 64 }), fc.integer({ min: 200, max: 4_096 }), (specs, steps, capacity, maxPush) => {
      const { hub } = hubOf(capacity, maxPush)
      // The feed starts at 30; changes 1..30 are "in the database" (this test does not catch clients up).
      const ring = hub.restart(30)
      let seq = 30
      const log: Array<{ cursor: number; entity: string | undefined }> = []
      const clients = specs.map((s) => {
        const c = clientAt(30, s.filter === undefined ? undefined : new Set([s.filter]), 512)
        hub.add(c)
        hub.tryFollow(c, false)
        return { c, text: "", filter: s.filter }
      })
      for (const s of steps) {
        if (s.kind === "append") {
          const events = Array.from({ length: s.n }, () => change(++seq, s.entity))
          events.forEach((e) => log.push({ cursor: e.seq, entity: e.entity }))
          hub.append(ring, Chunk.unsafeFromArray(events))
        } else if (s.kind === "hole") {
          const resync = new Resync({ requestedAfter: seq, oldestAvailable: seq + s.skip + 1 })
          seq += s.skip
          log.push({ cursor: seq, entity: undefined })
          hub.append(ring, Chunk.make(resync))
        } else if (s.kind === "flush") hub.flushAll()
        else clients[s.client]!.text += read(clients[s.client]!.c)
      }
      hub.flushAll() // as the hand-out loop does after every append
      for (const client of clients) {
        client.text += read(client.c) // what is still buffered, and what reading it lets the hub give
        const { c, filter, text } = client
        const expected = log.filter((e) => e.cursor <= c.cursor && (e.entity === undefined || filter === undefined || e.entity === filter)).map((e) => e.cursor)
        expect(idsIn(text)).toEqual(expected)
        // A client that kept up has passed everything; one that fell behind resumes from the database right after its bytes.
        if (c.position !== undefined) expect(c.cursor).toBe(seq)
      }
    }), { numRuns: 300 })
  })
})
