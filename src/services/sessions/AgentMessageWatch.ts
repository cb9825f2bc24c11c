/**
 * A failed agent message never silences an escalation: when a message to a session's agent goes
 * `dead` (or was `skipped`: no agent sink), the session's human is paged
 * (Sessions.agentMessageDead, once per delivery). This fiber polls the change log for
 * deliveries that gave up (one filtered range read per feed poll) from its own durable offset,
 * so a restart loses no such event, and a second telling pages no one twice. It does not
 * subscribe to the feed: a subscriber makes the supervisor read and publish every change.
 */
import { Clock, Duration, Effect } from "effect"
import { agentMessageKind } from "../../domain/Session.js"
import { runForever } from "../../lib/loops.js"
import { RuntimeConfig } from "../../runtime/RuntimeConfig.js"
import { ChangeLogStore } from "../../store/ChangeLogStore.js"
import { NotificationStore } from "../../store/NotificationStore.js"
import { Writer } from "../../store/Writer.js"
import { Sessions } from "../Sessions.js"

/** Its offset row (names starting `herald` are Herald's own). */
const consumer = "herald.agent-messages"

export class AgentMessageWatch extends Effect.Service<AgentMessageWatch>()("herald/AgentMessageWatch", {
  scoped: Effect.gen(function* () {
    const config = yield* RuntimeConfig
    const changes = yield* ChangeLogStore
    const writer = yield* Writer
    const notifications = yield* NotificationStore
    const sessions = yield* Sessions

    /** Pages for the delivery if it is a message to a session's agent. */
    const handle = (deliveryId: string, notificationId: string) =>
      Effect.gen(function* () {
        const n = yield* notifications.get(notificationId)
        if (n === undefined || n.kind !== agentMessageKind || n.sessionId === null) return
        const messageKind = String((n.payload as { messageKind?: unknown }).messageKind ?? "message")
        yield* sessions.agentMessageDead(n.sessionId, deliveryId, messageKind).pipe(
          Effect.catchTag("SessionNotFound", () => Effect.void))
      })

    /**
     * The offset is saved after every pass that paged, else at most every 5 s: after a crash
     * it reads those few seconds again, and paging twice is refused by the once-only budget.
     */
    const follow = Effect.gen(function* () {
      let offset = (yield* changes.offset(consumer)) ?? (yield* changes.bounds).newest ?? 0
      let savedAt = yield* Clock.currentTimeMillis
      for (;;) {
        yield* Effect.sleep(Duration.millis(config.feedPollMs))
        const { newest } = yield* changes.bounds
        if (newest === null || newest <= offset) continue
        const gaveUp = yield* changes.gaveUpAfter(offset, newest)
        yield* Effect.forEach(gaveUp, (d) => handle(d.deliveryId, d.notificationId), { discard: true })
        offset = newest
        const now = yield* Clock.currentTimeMillis
        if (gaveUp.length > 0 || now - savedAt >= 5_000) {
          yield* writer.transaction(changes.saveOffset(consumer, offset, now))
          savedAt = now
        }
      }
    })

    if (config.background) yield* Effect.forkScoped(runForever(follow, "watching agent messages"))
    return {} as const
  })
}) {}
