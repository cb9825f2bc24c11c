import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { createHmac, randomBytes } from "node:crypto"
import { Webhook } from "standardwebhooks"
import { AgentSink } from "../../src/domain/Settings.js"
import type { SinkDelivery } from "../../src/domain/Sink.js"
import { makeAgentSink } from "../../src/sinks/agent.js"
import { agentMessageKind } from "../../src/domain/Session.js"
import { AgentEndpoints } from "../../src/sinks/AgentEndpoints.js"
import { makeHttpClients } from "../../src/sinks/internal/httpClients.js"
import { withHerald } from "../support/herald.js"
import { receiver, whenIo } from "../support/receiver.js"

const agentConfig = (fields: Record<string, unknown> = {}) => Schema.decodeUnknownSync(AgentSink)({ type: "agent", allowPrivateNetwork: true, ...fields })

const delivery = (sessionId: string | null): SinkDelivery => ({
  deliveryId: "dlv_agent_1",
  idempotencyKey: "dlv_agent_1",
  attempt: 1,
  sink: "agents",
  notification: {
    id: "ntf_1", kind: "ci_failed", priority: "high", title: "CI failed on #12", body: "lint: 3 errors",
    payload: { pr: 12 }, projectId: "web", sessionId, createdAt: 5_000
  }
})

/** The agent sink with real HTTP clients, asking `endpoints` (session id -> URL) where agents are. */
const agentSinkWith = (endpoints: Record<string, string>) =>
  Effect.map(makeHttpClients, (clients) =>
    makeAgentSink(clients, { endpointOf: (id) => Effect.succeed(Object.hasOwn(endpoints, id) ? endpoints[id]! : null) }))

describe("agent sink", () => {
  it.scoped("posts the notification, signed as Standard Webhooks, to the endpoint of the notification's session", () =>
    Effect.gen(function* () {
      const agent = yield* receiver()
      const other = yield* receiver()
      const secret = `whsec_${randomBytes(24).toString("base64")}`
      const sink = yield* agentSinkWith({ "web-3": `${agent.url}/agent/web-3/messages`, "web-4": other.url })
      yield* sink.deliver(agentConfig({ secret }), delivery("web-3"))
      expect(other.received).toHaveLength(0)
      expect(agent.received).toHaveLength(1)
      const [r] = agent.received
      expect(r!.method).toBe("POST")
      expect(r!.path).toBe("/agent/web-3/messages")
      expect(r!.headers["content-type"]).toContain("application/json")
      expect(r!.headers["webhook-id"]).toBe("dlv_agent_1")
      expect(r!.headers["idempotency-key"]).toBe("dlv_agent_1")
      expect(r!.headers["webhook-timestamp"]).toBe("0") // the TestClock's time, in seconds
      // Verified independently of the signing code: HMAC-SHA256 over "id.timestamp.body" with the decoded secret.
      const expected = createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64"))
        .update(`dlv_agent_1.0.${r!.body}`).digest("base64")
      expect(r!.headers["webhook-signature"]).toBe(`v1,${expected}`)
      expect(new Webhook(secret).sign("dlv_agent_1", new Date(0), r!.body)).toBe(r!.headers["webhook-signature"])
      expect(JSON.parse(r!.body)).toEqual({
        type: "herald.delivery",
        timestamp: "1970-01-01T00:00:05.000Z",
        data: { deliveryId: "dlv_agent_1", attempt: 1, sink: "agents", notification: delivery("web-3").notification }
      })
    }))

  it.scoped("a notification without a sessionId fails for good with agent_endpoint_missing, and nothing is sent", () =>
    Effect.gen(function* () {
      const agent = yield* receiver()
      const sink = yield* agentSinkWith({ "web-3": agent.url })
      const failure = yield* Effect.flip(sink.deliver(agentConfig(), delivery(null)))
      expect(failure).toMatchObject({ _tag: "SinkFailure", retryable: false, code: "agent_endpoint_missing" })
      expect(failure.message).toContain("sessionId")
      expect(agent.received).toHaveLength(0)
    }))

  it.scoped("a session without an agent endpoint fails for good with agent_endpoint_missing, naming the session", () =>
    Effect.gen(function* () {
      const agent = yield* receiver()
      const sink = yield* agentSinkWith({ "web-3": agent.url })
      const failure = yield* Effect.flip(sink.deliver(agentConfig(), delivery("web-9")))
      expect(failure).toMatchObject({ _tag: "SinkFailure", retryable: false, code: "agent_endpoint_missing" })
      expect(failure.message).toContain("web-9")
      expect(failure.message).toContain("agentEndpoint")
      expect(agent.received).toHaveLength(0)
    }))

  it.scoped("a 503 from the agent is retryable, carrying its Retry-After; a 410 is not", () =>
    Effect.gen(function* () {
      const busy = yield* receiver(() => ({ status: 503, headers: { "retry-after": "30" }, body: "restarting" }))
      const gone = yield* receiver(() => ({ status: 410, body: "session over" }))
      const sink = yield* agentSinkWith({ "web-1": busy.url, "web-2": gone.url })
      const retry = yield* Effect.flip(sink.deliver(agentConfig(), delivery("web-1")))
      expect(retry).toMatchObject({ retryable: true, code: "http_503", retryAfterMs: 30_000 })
      expect(retry.message).toContain("answered 503: restarting")
      const dead = yield* Effect.flip(sink.deliver(agentConfig(), delivery("web-2")))
      expect(dead).toMatchObject({ retryable: false, code: "http_410" })
    }))

  it.scoped("without allowPrivateNetwork a loopback endpoint is refused, as for webhooks", () =>
    Effect.gen(function* () {
      const agent = yield* receiver()
      const sink = yield* agentSinkWith({ "web-3": agent.url })
      const failure = yield* Effect.flip(sink.deliver(agentConfig({ allowPrivateNetwork: false }), delivery("web-3")))
      expect(failure).toMatchObject({ retryable: false, code: "private_network" })
      expect(agent.received).toHaveLength(0)
    }))

  // Through the whole runtime, whose default AgentEndpoints knows no sessions: the sink type is
  // registered, and its delivery is dead-lettered with the reason instead of retried.
  it.scoped("in a Herald, a message to the agent of a session it does not know goes dead with agent_endpoint_missing; other kinds never reach an agent sink", () =>
    withHerald((herald) => Effect.gen(function* () {
      const { notification: other } = yield* herald.enqueue({ kind: "review", title: "changes requested", sessionId: "web-3" })
      expect((yield* herald.getNotification(other.id)).deliveries).toEqual([])
      const { notification } = yield* herald.enqueue({ kind: agentMessageKind, title: "changes requested", sessionId: "web-3" })
      const d = yield* whenIo(herald.getNotification(notification.id).pipe(Effect.map((n) => n.deliveries[0]!)), (x) => x.status === "dead", "delivery dead")
      expect(d).toMatchObject({ attempts: 1, lastErrorCode: "agent_endpoint_missing" })
      expect(d.lastError).toContain("web-3")
    }), undefined, { sinks: { agents: { type: "agent" } }, routes: [{ sink: "agents", minPriority: "low" }] }))

  it.scoped("settings with a malformed agent secret are refused at the secret's path", () =>
    withHerald((herald) => Effect.gen(function* () {
      const refused = yield* Effect.flip(herald.putSettings({ sinks: { agents: { type: "agent", secret: "whsec_not base64" } } }))
      expect(refused).toMatchObject({ _tag: "InvalidInput", issues: [{ path: "sinks.agents.secret" }] })
    }), { background: false }))

  it("AgentEndpoints.none answers null for every session", () =>
    Effect.gen(function* () {
      const endpoints = yield* AgentEndpoints
      expect(yield* endpoints.endpointOf("web-1")).toBeNull()
    }).pipe(Effect.provide(Layer.fresh(AgentEndpoints.none)), Effect.runPromise))
})
