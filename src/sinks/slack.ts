/**
 * The `slack` sink: a POST to a Slack incoming-webhook URL with the notification as mrkdwn text.
 * Slack answers 429 (with Retry-After) or 5xx when it cannot take a message now: retried. Its 4xx
 * answers (`invalid_payload`, `no_service`, `channel_is_archived`, `action_prohibited`, ...) do not
 * change on a retry: the delivery is dead-lettered at once with Slack's reason in the message.
 */
import { Effect } from "effect"
import type { Sink, SinkDelivery } from "../domain/Sink.js"
import type { HttpClients } from "./internal/httpClients.js"
import { post } from "./internal/httpPost.js"
import { userAgent } from "./internal/signedPost.js"

/** Slack's three control characters in text (api.slack.com/reference/surfaces/formatting#escaping). */
const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

export const slackText = (n: SinkDelivery["notification"]) => {
  const mark = n.priority === "urgent" ? ":rotating_light: " : n.priority === "high" ? ":warning: " : ""
  const lines = [`${mark}*${escape(n.title)}*`]
  if (n.body !== "") lines.push(escape(n.body))
  lines.push(`_${escape(n.kind)}_`)
  return lines.join("\n")
}

export const makeSlackSink = (clients: HttpClients): Sink => ({
  deliver: (config, d) =>
    Effect.gen(function* () {
      if (config.type !== "slack") return yield* Effect.dieMessage(`the slack sink was handed a ${config.type} sink`)
      return yield* post(clients, {
        url: config.url,
        headers: { "user-agent": userAgent },
        body: JSON.stringify({ text: slackText(d.notification) }),
        allowPrivateNetwork: config.allowPrivateNetwork,
        retryable: (answer) => answer.status === 408 || answer.status === 429 || answer.status >= 500
      })
    })
})
