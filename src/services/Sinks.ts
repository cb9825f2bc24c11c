/** The sink implementations this process has, by sink type. Which named sinks exist is the settings'. */
import { Context, Effect, Layer } from "effect"
import type { SinkType } from "../domain/Settings.js"
import type { Sink } from "../domain/Sink.js"
import { makeLogSink } from "../sinks/log.js"
import { makeEmailSink } from "../sinks/email.js"
import { makeHttpClients } from "../sinks/internal/httpClients.js"
import { MemorySink } from "../sinks/memory.js"
import { makeSlackSink } from "../sinks/slack.js"
import { makeWebhookSink } from "../sinks/webhook.js"

export class Sinks extends Context.Tag("herald/Sinks")<Sinks, ReadonlyMap<SinkType, Sink>>() {
  /** The built-in sinks: log, memory, webhook, slack and email. */
  static readonly layer = Layer.scoped(
    Sinks,
    Effect.gen(function* () {
      const memory = yield* MemorySink
      const log = yield* makeLogSink
      const http = yield* makeHttpClients
      const email = yield* makeEmailSink
      return new Map<SinkType, Sink>([
        ["log", log],
        ["memory", memory.sink],
        ["webhook", makeWebhookSink(http)],
        ["slack", makeSlackSink(http)],
        ["email", email]
      ])
    })
  )
}
