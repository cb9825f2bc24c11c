/**
 * Where the `agent` sink posts a session's messages: the session's agent endpoint. The session
 * store provides the real one; `none` knows no endpoints (for embedders and tests without sessions).
 */
import { Context, Effect, Layer } from "effect"

export class AgentEndpoints extends Context.Tag("herald/AgentEndpoints")<AgentEndpoints, {
  /** The agent endpoint URL of the session, or null when it has none (or there is no such session). */
  readonly endpointOf: (sessionId: string) => Effect.Effect<string | null>
}>() {
  /** Knows no sessions: every `agent` delivery fails with `agent_endpoint_missing`. */
  static readonly none = Layer.succeed(AgentEndpoints, { endpointOf: () => Effect.succeed(null) })
}
