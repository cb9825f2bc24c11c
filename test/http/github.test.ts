/**
 * POST /v1/integrations/github over real HTTP with a real example body of
 * @octokit/webhooks-examples, signed as GitHub signs it: no token needed, a bad signature is 401
 * and writes nothing, a PR event moves the owning session, a redelivery changes nothing.
 */
import { expect, layer } from "@effect/vitest"
import { sign } from "@octokit/webhooks-methods"
import { Effect } from "effect"
import { Herald } from "../../src/layers/Herald.js"
import { Sessions } from "../../src/services/Sessions.js"
import { memorySettings } from "../support/herald.js"
import { exampleOf } from "../services/github/examples.js"
import { TestServer, testServer } from "./support.js"

const secret = "It's a Secret to Everybody"

/** A webhook delivery as GitHub sends it: JSON, its event and delivery id headers, and (with a key) its signature. No bearer token. */
const deliver = (event: string, payload: unknown, deliveryId: string, key?: string) =>
  Effect.gen(function* () {
    const { url } = yield* TestServer
    const body = JSON.stringify(payload)
    const signature = key === undefined ? {} : { "x-hub-signature-256": yield* Effect.promise(() => sign(key, body)) }
    const response = yield* Effect.promise(() => fetch(`${url}/v1/integrations/github`, {
      method: "POST", body,
      headers: { "content-type": "application/json", "x-github-event": event, "x-github-delivery": deliveryId, ...signature }
    }))
    return { status: response.status, body: yield* Effect.promise(() => response.json() as Promise<Record<string, unknown>>) }
  })

layer(testServer(), { excludeTestServices: true })("GitHub webhooks over HTTP", (it) => {
  it.effect("not configured is 404 saying what to set; a bad or missing signature is 401 and writes nothing; a signed PR event moves its session; a redelivery changes nothing", () =>
    Effect.gen(function* () {
      const opened = exampleOf("pull_request", (p) => p.action === "opened")
      const notConfigured = yield* deliver("pull_request", opened, "d-0", secret)
      expect(notConfigured.status).toBe(404)
      expect(String(notConfigured.body["detail"])).toContain("integrations.github.secret")

      const herald = yield* Herald
      yield* herald.putSettings({ ...memorySettings, integrations: { github: { secret } } })
      const sessions = yield* Sessions
      yield* sessions.createProject({ id: "hello", name: "Hello-World" })
      const s = yield* sessions.createSession({ projectId: "hello", branch: opened.pull_request.head.ref })
      const before = yield* herald.latestSeq

      expect((yield* deliver("pull_request", opened, "d-1", "another secret")).status).toBe(401)
      const unsigned = yield* deliver("pull_request", opened, "d-1")
      expect(unsigned).toMatchObject({ status: 401, body: { code: "GithubSignatureInvalid" } })
      expect(yield* herald.latestSeq).toBe(before)

      const applied = yield* deliver("pull_request", opened, "d-1", secret)
      expect(applied).toEqual({ status: 202, body: { outcome: "applied", sessionId: s.id, reason: null } })
      const detail = yield* sessions.get(s.id)
      expect(detail.pullRequests.map((p) => p.url)).toEqual([opened.pull_request.html_url])
      const after = yield* herald.latestSeq
      expect(yield* deliver("pull_request", opened, "d-1", secret)).toMatchObject({ status: 202, body: { outcome: "duplicate" } })
      expect(yield* herald.latestSeq).toBe(after)
      expect(yield* sessions.get(s.id)).toEqual(detail)
      const ping = yield* deliver("ping", { zen: "Keep it logically awesome.", hook_id: 1 }, "d-2", secret)
      expect(ping).toMatchObject({ status: 202, body: { outcome: "ignored" } })
    }))
})
