/** The built-in sink implementations, loaded on first use, as the runtime's Sinks registry. */
import { Effect, Layer, Scope } from "effect"
import type { SinkType } from "../domain/Settings.js"
import type { Sink } from "../domain/Sink.js"
import { RuntimeConfig } from "../runtime/RuntimeConfig.js"
import { Sinks } from "../runtime/Sinks.js"
import { AgentEndpoints } from "../sinks/AgentEndpoints.js"
import { makeLogSink } from "../sinks/log.js"
import { MemorySink } from "../sinks/memory.js"

/**
 * A sink whose implementation, and the libraries it needs, load on its first delivery: a program
 * that never routes to it never pays for them (the Node HTTP client module alone adds about 35 MB
 * of RSS, nodemailer about 15 MB). What it acquires lives as long as the layer.
 */
const onFirstUse = (scope: Scope.Scope, load: Effect.Effect<Sink, never, Scope.Scope>) =>
  Effect.map(Effect.cached(Scope.extend(load, scope)), (sink): Sink => ({
    deliver: (config, delivery) => Effect.flatMap(sink, (s) => s.deliver(config, delivery))
  }))

/** The built-in sinks: log, memory, webhook, agent, slack and email; the agent sink asks AgentEndpoints where a session's agent is. */
export const sinksLayer = Layer.scoped(
  Sinks,
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const memory = yield* MemorySink
    const log = yield* makeLogSink((yield* RuntimeConfig).logDir)
    const endpoints = yield* AgentEndpoints
    // One pair of keep-alive agents for the HTTP sinks, made when the first of them is used.
    const http = yield* Effect.cached(Scope.extend(
      Effect.flatMap(Effect.promise(() => import("../sinks/internal/httpClients.js")), (m) => m.makeHttpClients),
      scope
    ))
    const webhook = yield* onFirstUse(scope, Effect.zipWith(http, Effect.promise(() => import("../sinks/webhook.js")), (clients, m) => m.makeWebhookSink(clients)))
    const agent = yield* onFirstUse(scope, Effect.zipWith(http, Effect.promise(() => import("../sinks/agent.js")), (clients, m) => m.makeAgentSink(clients, endpoints)))
    const slack = yield* onFirstUse(scope, Effect.zipWith(http, Effect.promise(() => import("../sinks/slack.js")), (clients, m) => m.makeSlackSink(clients)))
    const email = yield* onFirstUse(scope, Effect.flatMap(Effect.promise(() => import("../sinks/email.js")), (m) => m.makeEmailSink))
    return new Map<SinkType, Sink>([
      ["log", log],
      ["memory", memory.sink],
      ["webhook", webhook],
      ["agent", agent],
      ["slack", slack],
      ["email", email]
    ])
  })
)
