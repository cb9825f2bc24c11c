import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Herald } from "../../src/layers/Herald.js"
import { withHerald } from "../support/herald.js"
import { type Answer, receiver, whenIo } from "../support/receiver.js"

const settingsFor = (url: string) => ({
  sinks: { team: { type: "slack", url, allowPrivateNetwork: true } },
  routes: [{ sink: "team", minPriority: "low" }],
  retry: { maxAttempts: 3, baseMs: 1_000, factor: 2, capMs: 60_000 }
})

const deliverOne = (herald: Herald["Type"], status: string) =>
  Effect.gen(function* () {
    const { notification } = yield* herald.enqueue({ kind: "ci.failed", priority: "urgent", title: "CI <main> failed", body: "tests & lint" })
    return yield* whenIo(herald.getNotification(notification.id).pipe(Effect.map((n) => n.deliveries[0]!)), (d) => d.status === status, `delivery ${status}`)
  })

describe("slack sink", () => {
  it.scoped("posts the notification as escaped mrkdwn text", () =>
    Effect.gen(function* () {
      const slack = yield* receiver()
      yield* withHerald((herald) => deliverOne(herald, "sent"), undefined, settingsFor(slack.url))
      expect(JSON.parse(slack.received[0]!.body)).toEqual({ text: ":rotating_light: *CI &lt;main&gt; failed*\ntests &amp; lint\n_ci.failed_" })
    }))

  for (const [answer, status, code] of [
    [{ status: 404, body: "no_service" }, "dead", "http_404"],
    [{ status: 410, body: "channel_is_archived" }, "dead", "http_410"],
    [{ status: 429, headers: { "retry-after": "30" }, body: "rate_limited" }, "retry_wait", "http_429"],
    [{ status: 500, body: "" }, "retry_wait", "http_500"]
  ] as ReadonlyArray<readonly [Answer, string, string]>) {
    it.scoped(`an answer of ${answer.status} ${answer.body || "(empty)"} is ${status === "dead" ? "final" : "retried"}, with Slack's reason kept`, () =>
      Effect.gen(function* () {
        const slack = yield* receiver(() => answer)
        yield* withHerald((herald) => Effect.gen(function* () {
          const d = yield* deliverOne(herald, status)
          expect(d.lastErrorCode).toBe(code)
          if (answer.body) expect(d.lastError).toContain(answer.body)
          if (answer.status === 429) expect(d.nextAttemptAt).toBe(30_000)
        }), undefined, settingsFor(slack.url))
      }))
  }
})
