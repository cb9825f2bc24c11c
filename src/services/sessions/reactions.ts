/**
 * What each action of the session machine becomes: a notification to enqueue (a message to the
 * agent, or one for people), and the budget key it spends. Pure; the Sessions service enqueues
 * and spends in the transaction that persists the step, so a restart neither repeats nor loses one.
 */
import type { NotificationInputEncoded } from "../../domain/Notification.js"
import { agentMessageKind } from "../../domain/Session.js"
import type { SessionAction } from "../../machines/session.js"

export { agentMessageKind }

export interface Reaction {
  /** What the budget counts; with the count spent before, the notification's dedupe key. */
  readonly budgetKey: string
  /** At most once per key, ever: the fact it reports can be told again (several processes watch dead deliveries). */
  readonly once?: boolean
  readonly notification: Omit<NotificationInputEncoded, "dedupeKey" | "projectId" | "sessionId">
}

const clip = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`)

/** The notification an action asks for; null for none. */
export const reactionOf = (sessionId: string, action: SessionAction): Reaction | null => {
  switch (action.type) {
    case "messageAgent": {
      const lines = action.checks.map((c) => [
        `- ${c.name}${c.failedStep !== null ? `: failed at step "${c.failedStep}"` : ": failed"}`,
        ...(c.detailsUrl !== null ? [`  run: ${c.detailsUrl}`] : []),
        ...(c.logExcerpt !== null ? [`  log:\n${c.logExcerpt.split("\n").map((l) => `    ${l}`).join("\n")}`] : [])
      ].join("\n"))
      return {
        budgetKey: `agent:ci_failed:${action.prUrl}:${action.headSha}`,
        notification: {
          kind: agentMessageKind,
          priority: "high",
          title: clip(`CI failed on ${action.prUrl} at ${action.headSha.slice(0, 12)}: ${action.checks.map((c) => c.name).join(", ") || "a check"}`, 1_000),
          body: clip(`Failing checks:\n${lines.join("\n")}\n\nFix them and push; this is failed run ${action.failedRuns} in a row.`, 65_536),
          payload: { messageKind: "ci_failed", sessionId, prUrl: action.prUrl, headSha: action.headSha, failedRuns: action.failedRuns, checks: action.checks }
        }
      }
    }
    case "forwardComment": {
      const c = action.comment
      const where = c.path !== null ? ` on ${c.path}${c.line !== null ? `:${c.line}` : ""}` : ""
      return {
        budgetKey: `agent:comment:${action.prUrl}:${c.id}`,
        notification: {
          kind: agentMessageKind,
          priority: "normal",
          title: clip(`Review comment by ${c.author}${where} (${action.prUrl})`, 1_000),
          body: clip(c.body, 65_536),
          payload: { messageKind: "review_comment", sessionId, prUrl: action.prUrl, comment: c }
        }
      }
    }
    case "stopAgent":
      return {
        budgetKey: "agent:stop",
        notification: {
          kind: agentMessageKind,
          priority: "high",
          title: clip(`Stop: session ${sessionId} was terminated (${action.reason})`, 1_000),
          payload: { messageKind: "stop", sessionId, reason: action.reason }
        }
      }
    case "notifyHuman": {
      const about = action.kind === "session.died" ? `its agent is gone${action.reason !== null ? ` (${action.reason})` : ""}` : action.prUrl
      const title = {
        "session.pr_merged": `Session ${sessionId}: ${about} merged`,
        "session.approved": `Session ${sessionId}: ${about} approved`,
        "session.changes_requested": `Session ${sessionId}: changes requested on ${about}`,
        "session.died": `Session ${sessionId} died: ${about}`
      }[action.kind]
      const { type: _, ...facts } = action
      return {
        budgetKey: `human:${action.kind}${action.kind === "session.died" ? "" : `:${action.prUrl}`}`,
        notification: { kind: action.kind, priority: action.priority, title: clip(title, 1_000), payload: { sessionId, ...facts } }
      }
    }
    case "pageHuman": {
      const { type: _, ...facts } = action
      return action.kind === "session.ci_stuck"
        ? {
          budgetKey: `human:session.ci_stuck:${action.prUrl}`,
          notification: {
            kind: action.kind, priority: "urgent",
            title: clip(`Session ${sessionId} is stuck: CI failed ${action.failedRuns} runs in a row on ${action.prUrl}; the agent is no longer asked to fix it`, 1_000),
            payload: { sessionId, ...facts }
          }
        }
        : {
          budgetKey: `human:session.agent_unreachable:${action.deliveryId}`,
          once: true,
          notification: {
            kind: action.kind, priority: "urgent",
            title: clip(`Session ${sessionId}: a message to its agent (${action.messageKind}) could not be delivered`, 1_000),
            body: `Delivery ${action.deliveryId} gave up. See GET /v1/deliveries/${action.deliveryId} for its attempts.`,
            payload: { sessionId, ...facts }
          }
        }
    }
  }
}
