/**
 * The `agent` sink: a message to a session's coding agent, POSTed to the endpoint AgentEndpoints
 * gives for the notification's session, signed and shaped exactly like the `webhook` sink's
 * (internal/signedPost.ts). With no session or no endpoint it fails for good: no retry would find one.
 */
import { Effect } from "effect"
import { type Sink, SinkFailure } from "../domain/Sink.js"
import type { AgentEndpoints } from "./AgentEndpoints.js"
import type { HttpClients } from "./internal/httpClients.js"
import { postSigned } from "./internal/signedPost.js"

const endpointMissing = (message: string) => new SinkFailure({ retryable: false, code: "agent_endpoint_missing", message })

export const makeAgentSink = (clients: HttpClients, endpoints: AgentEndpoints["Type"]): Sink => ({
  deliver: (config, d) =>
    Effect.gen(function* () {
      if (config.type !== "agent") return yield* Effect.dieMessage(`the agent sink was handed a ${config.type} sink`)
      const sessionId = d.notification.sessionId
      if (sessionId === null) {
        return yield* endpointMissing("the notification has no sessionId: set `sessionId` on notifications routed to an agent sink")
      }
      const url = yield* endpoints.endpointOf(sessionId)
      if (url === null) {
        return yield* endpointMissing(`session ${sessionId} has no agent endpoint: set \`agentEndpoint\` on the session`)
      }
      return yield* postSigned(clients, { url, secret: config.secret, allowPrivateNetwork: config.allowPrivateNetwork }, d)
    })
})
