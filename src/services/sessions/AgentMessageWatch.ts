/**
 * A failed agent message never silences an escalation: this fiber follows the change feed, and
 * when a message to a session's agent goes `dead` (or was `skipped`: no agent sink), the
 * session's human is paged (Sessions.agentMessageDead, once per delivery). It resumes from its
 * own durable offset, so a restart loses no such event; a second telling pages no one twice.
 */
import { Chunk, Clock, Effect, Stream } from "effect"
import { type ChangeEvent, Resync } from "../../domain/ChangeEvent.js"
import { agentMessageKind } from "../../domain/Session.js"
import { runForever } from "../../lib/loops.js"
import { Broadcaster } from "../../runtime/Broadcaster.js"
import { RuntimeConfig } from "../../runtime/RuntimeConfig.js"
import { ChangeLogStore } from "../../store/ChangeLogStore.js"
import { NotificationStore } from "../../store/NotificationStore.js"
import { Writer } from "../../store/Writer.js"
import { Sessions } from "../Sessions.js"

/** Its offset row (names starting `herald` are Herald's own). */
const consumer = "herald.agent-messages"

/** A delivery that gave up: dead, or created skipped. */
const gaveUp = (e: ChangeEvent) => {
  if (e.entity !== "delivery") return false
  const p = e.payload as { status?: string }
  return e.event === "dead" || (e.event === "created" && p.status === "skipped")
}

export class AgentMessageWatch extends Effect.Service<AgentMessageWatch>()("herald/AgentMessageWatch", {
  scoped: Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const changes = yield* ChangeLogStore
    const writer = yield* Writer
    const broadcaster = yield* Broadcaster
    const notifications = yield* NotificationStore
    const sessions = yield* Sessions

    /** Pages for each agent message among these changes that gave up. */
    const handle = (events: ReadonlyArray<ChangeEvent>) =>
      Effect.forEach(events.filter(gaveUp), (e) => Effect.gen(function* () {
        const notificationId = (e.payload as { notificationId?: string }).notificationId
        if (notificationId === undefined) return
        const n = yield* notifications.get(notificationId)
        if (n === undefined || n.kind !== agentMessageKind || n.sessionId === null) return
        const messageKind = String((n.payload as { messageKind?: unknown }).messageKind ?? "message")
        yield* sessions.agentMessageDead(n.sessionId, e.entityId, messageKind).pipe(
          Effect.catchTag("SessionNotFound", () => Effect.void))
      }), { discard: true })

    /**
     * The offset is saved after every page it acted on, else at most every 5 s: a write per
     * chunk of the feed would cost every busy process a transaction per commit. After a crash
     * it reads those few seconds again, and paging twice is refused by the once-only budget.
     */
    const follow = Effect.gen(function* () {
      const start = (yield* changes.offset(consumer)) ?? (yield* changes.bounds).newest ?? 0
      let savedAt = yield* Clock.currentTimeMillis
      yield* broadcaster.subscribe(start).pipe(
        Stream.mapChunksEffect((chunk) => Effect.gen(function* () {
          const events = Chunk.toReadonlyArray(chunk).filter((e): e is ChangeEvent => !(e instanceof Resync))
          if (events.length === 0) return Chunk.empty<void>()
          const acted = events.some(gaveUp)
          yield* handle(events)
          const now = yield* Clock.currentTimeMillis
          if (acted || now - savedAt >= 5_000) {
            yield* writer.transaction(changes.saveOffset(consumer, events[events.length - 1]!.seq, now))
            savedAt = now
          }
          return Chunk.empty<void>()
        })),
        Stream.runDrain
      )
    })

    if (config.background) yield* Effect.forkScoped(runForever(follow, "watching agent messages"))
    return {} as const
  })
}) {}
