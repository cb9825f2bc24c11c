import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { createHmac, randomBytes } from "node:crypto"
import { Webhook } from "standardwebhooks"
import type { Herald } from "../../src/layers/Herald.js"
import { signerOf } from "../../src/sinks/webhook.js"
import { stays, withHerald } from "../support/herald.js"
import { type Answer, receiver, whenIo } from "../support/receiver.js"

const settingsFor = (hook: Record<string, unknown>) => ({
  sinks: { hook: { type: "webhook", allowPrivateNetwork: true, ...hook } },
  routes: [{ sink: "hook", minPriority: "low" }],
  retry: { maxAttempts: 3, baseMs: 1_000, factor: 2, capMs: 60_000 },
  leaseMs: 30_000
})

// Few feed-poll wake-ups while the TestClock jumps minutes ahead.
const quiet = { feedPollMs: 60_000 }

const deliveryOf = (herald: Herald["Type"], notificationId: string) =>
  herald.getNotification(notificationId).pipe(Effect.map((n) => n.deliveries[0]!))

/** Enqueues one notification and waits (on real I/O) until its delivery is in `status`. */
const deliverOne = (herald: Herald["Type"], status: string, title = "deploy finished") =>
  Effect.gen(function* () {
    const { notification } = yield* herald.enqueue({ kind: "deploy", title, body: "prod is on v42", payload: { version: 42 } })
    return yield* whenIo(deliveryOf(herald, notification.id), (d) => d.status === status, `delivery ${status}`)
  })

const scripted = (...answers: ReadonlyArray<Answer | "hang">) => receiver((_, i) => answers[Math.min(i, answers.length - 1)]!)

describe("webhook sink", () => {
  it.scoped("posts the notification signed as Standard Webhooks, with the delivery id as webhook-id and idempotency key", () =>
    Effect.gen(function* () {
      const hook = yield* receiver()
      const secret = `whsec_${randomBytes(24).toString("base64")}`
      yield* withHerald((herald) => Effect.gen(function* () {
        const d = yield* deliverOne(herald, "sent")
        expect(hook.received).toHaveLength(1)
        const [r] = hook.received
        expect(r!.method).toBe("POST")
        expect(r!.headers["content-type"]).toContain("application/json")
        expect(r!.headers["webhook-id"]).toBe(d.id)
        expect(r!.headers["idempotency-key"]).toBe(d.id)
        expect(r!.headers["webhook-timestamp"]).toBe("0") // the TestClock's time, in seconds
        // Verified independently of the sink's signing code: HMAC-SHA256 over "id.timestamp.body"
        // with the base64-decoded secret, as the Standard Webhooks spec says.
        const expected = createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64"))
          .update(`${d.id}.0.${r!.body}`).digest("base64")
        expect(r!.headers["webhook-signature"]).toBe(`v1,${expected}`)
        expect(new Webhook(secret).sign(d.id, new Date(0), r!.body)).toBe(r!.headers["webhook-signature"])
        expect(JSON.parse(r!.body)).toMatchObject({
          type: "herald.delivery",
          timestamp: "1970-01-01T00:00:00.000Z",
          data: { deliveryId: d.id, attempt: 1, sink: "hook", notification: { kind: "deploy", title: "deploy finished", payload: { version: 42 } } }
        })
        const { attempts } = yield* herald.getDelivery(d.id)
        expect(attempts.map((a) => a.outcome)).toEqual(["sent"])
      }), undefined, settingsFor({ url: `${hook.url}/hooks/herald?token=a~b&x=a%20b&flag`, secret }))
      // The URL as written: a receiver checking a token in the query gets exactly what it issued.
      expect(hook.received[0]!.path).toBe("/hooks/herald?token=a~b&x=a%20b&flag")
    }))

  // Under the real clock, as a receiver sees it: the reference library's verify() accepts it
  // (signature and the five-minute timestamp window both).
  it.scopedLive("a receiver verifies it with the Standard Webhooks library", () =>
    Effect.gen(function* () {
      const hook = yield* receiver()
      const secret = `whsec_${randomBytes(32).toString("base64")}`
      yield* withHerald((herald) => deliverOne(herald, "sent"), undefined, settingsFor({ url: hook.url, secret }))
      const [r] = hook.received
      const verified = new Webhook(secret).verify(r!.body, r!.headers as Record<string, string>)
      expect(verified).toMatchObject({ type: "herald.delivery", data: { notification: { title: "deploy finished" } } })
      expect(() => new Webhook(`whsec_${randomBytes(32).toString("base64")}`).verify(r!.body, r!.headers as Record<string, string>)).toThrow()
    }))

  it("a secret without whsec_ is used as the key's bytes; a malformed whsec_ secret is unusable, not used some other way", () => {
    const body = '{"x":1}'
    const signed = (signerOf("plain secret") as Webhook).sign("dlv_1", new Date(5_000), body)
    expect(signed).toBe(`v1,${createHmac("sha256", "plain secret").update(`dlv_1.5.${body}`).digest("base64")}`)
    for (const bad of ["", "whsec_", "whsec_!!!", "whsec_a-b_c9==", "whsec_dGVz dA=="]) {
      expect(signerOf(bad)).toMatchObject({ _tag: "SinkFailure", retryable: false, code: "invalid_secret" })
    }
  })

  it.scoped("settings with a malformed webhook secret are refused at the secret's path, and nothing changes", () =>
    withHerald((herald) => Effect.gen(function* () {
      const before = yield* herald.getSettings
      for (const secret of ["", "whsec_not base64"]) {
        const refused = yield* Effect.flip(herald.putSettings(settingsFor({ url: "https://example.com/hook", secret })))
        expect(refused).toMatchObject({ _tag: "InvalidInput", issues: [{ path: "sinks.hook.secret" }] })
      }
      expect(yield* herald.getSettings).toEqual(before)
    }), { background: false }))

  it.scoped("a 503 with Retry-After waits as long as the receiver asked, then the retry carries the same webhook-id", () =>
    Effect.gen(function* () {
      const hook = yield* scripted({ status: 503, headers: { "retry-after": "120" }, body: "down for maintenance" }, { status: 204 })
      yield* withHerald((herald) => Effect.gen(function* () {
        const d = yield* deliverOne(herald, "retry_wait")
        expect(d.nextAttemptAt).toBe(120_000)
        expect(d.lastErrorCode).toBe("http_503")
        expect(d.lastError).toContain("answered 503: down for maintenance")
        yield* TestClock.adjust("119 seconds")
        // Not due yet: still waiting in the database, one attempt, after any claim had its chance.
        yield* stays(herald.getDelivery(d.id), (x) => x.delivery.status === "retry_wait" && x.delivery.attempts === 1 && hook.received.length === 1, "retried before Retry-After")
        yield* TestClock.adjust("1 second")
        yield* whenIo(herald.getDelivery(d.id), (x) => x.delivery.status === "sent", "sent on the retry")
        expect(hook.received.map((r) => r.headers["webhook-id"])).toEqual([d.id, d.id])
        expect(JSON.parse(hook.received[1]!.body).data.attempt).toBe(2)
      }), quiet, settingsFor({ url: hook.url }))
    }))

  it.scoped("a 2xx counts as delivered when its status arrives, even if its body never ends", () =>
    Effect.gen(function* () {
      const hook = yield* receiver(() => ({ status: 200, body: "accepted, and then nothing", endless: true }))
      yield* withHerald((herald) => Effect.gen(function* () {
        const d = yield* deliverOne(herald, "sent")
        expect(d.attempts).toBe(1)
      }), undefined, settingsFor({ url: hook.url, timeoutMs: 1_000 }))
    }))

  it.scoped("410 Gone dead-letters at once; any other error status is retried", () =>
    Effect.gen(function* () {
      const gone = yield* scripted({ status: 410, body: "endpoint removed" })
      const bad = yield* scripted({ status: 400, body: "{\"error\":\"schema\"}" })
      yield* withHerald((herald) => Effect.gen(function* () {
        const dead = yield* deliverOne(herald, "dead")
        expect(dead).toMatchObject({ attempts: 1, lastErrorCode: "http_410" })
      }), undefined, settingsFor({ url: gone.url }))
      yield* withHerald((herald) => Effect.gen(function* () {
        const waiting = yield* deliverOne(herald, "retry_wait")
        expect(waiting).toMatchObject({ attempts: 1, lastErrorCode: "http_400" })
      }), undefined, settingsFor({ url: bad.url }))
    }))

  it.scoped("a refused connection is a retryable connect_failed", () =>
    Effect.gen(function* () {
      // A port nothing listens on any more: a receiver's, once it is closed.
      const port = yield* Effect.scoped(Effect.map(receiver(), (r) => r.port))
      yield* withHerald((herald) => Effect.gen(function* () {
        const d = yield* deliverOne(herald, "retry_wait")
        expect(d.lastErrorCode).toBe("connect_failed")
        expect(d.lastError).toContain("ECONNREFUSED")
      }), undefined, settingsFor({ url: `http://127.0.0.1:${port}/` }))
    }))

  it.scoped("without allowPrivateNetwork, a loopback address or a name that resolves to one is refused for good, each in its own words, and nothing is sent", () =>
    Effect.gen(function* () {
      const hook = yield* receiver()
      for (const [url, words] of [
        [hook.url, /^127\.0\.0\.1 is a private address;/],
        [`http://localhost:${hook.port}/`, /^localhost resolves to (127\.0\.0\.1|::1), which is not a public address;/]
      ] as const) {
        yield* withHerald((herald) => Effect.gen(function* () {
          const d = yield* deliverOne(herald, "dead")
          expect(d.lastErrorCode).toBe("private_network")
          expect(d.lastError).toMatch(words)
          expect(d.lastError).toContain("allowPrivateNetwork")
        }), undefined, settingsFor({ url, allowPrivateNetwork: false }))
      }
      expect(hook.received).toHaveLength(0)
    }))

  it.scoped("a receiver that never answers is cut off at timeoutMs: the connection is closed and the attempt retried", () =>
    Effect.gen(function* () {
      const hook = yield* scripted("hang", { status: 200 })
      yield* withHerald((herald) => Effect.gen(function* () {
        const { notification } = yield* herald.enqueue({ kind: "k", title: "slow receiver" })
        yield* whenIo(Effect.sync(() => hook.received.length), (n) => n === 1, "the request arrived")
        yield* TestClock.adjust("1 second")
        const d = yield* whenIo(deliveryOf(herald, notification.id), (x) => x.status === "retry_wait", "cut off")
        expect(d.lastErrorCode).toBe("timeout")
        yield* whenIo(Effect.sync(() => hook.aborted.count), (n) => n === 1, "the connection closed")
      }), undefined, settingsFor({ url: hook.url, timeoutMs: 1_000 }))
    }))
})
