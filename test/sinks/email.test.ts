import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { Herald } from "../../src/layers/Herald.js"
import { withHerald } from "../support/herald.js"
import { receiver, whenIo } from "../support/receiver.js"
import { smtpServer } from "../support/smtp.js"

const settingsFor = (port: number, extra: Record<string, unknown> = {}) => ({
  sinks: { mail: { type: "email", host: "127.0.0.1", port, from: "herald@example.test", to: ["ops@example.test", "dev@example.test"], ...extra } },
  routes: [{ sink: "mail", minPriority: "low" }],
  retry: { maxAttempts: 3, baseMs: 1_000, factor: 2, capMs: 60_000 }
})

const deliverOne = (herald: Herald["Type"], status: string) =>
  Effect.gen(function* () {
    const { notification } = yield* herald.enqueue({
      kind: "cert.expiring", priority: "high", title: "Certificate expires in 3 days", body: "example.test renews on Friday", payload: { days: 3 }
    })
    return yield* whenIo(herald.getNotification(notification.id).pipe(Effect.map((n) => n.deliveries[0]!)), (d) => d.status === status, `delivery ${status}`, 15_000)
  })

const deliveryOf = (herald: Herald["Type"], notificationId: string) =>
  herald.getNotification(notificationId).pipe(Effect.map((n) => n.deliveries[0]!))

const messageIdOf = (raw: string) => /^Message-ID: (.*)$/m.exec(raw)?.[1]

describe("email sink", () => {
  it.scoped("sends one message to every recipient, logged in, with a Message-ID made from the delivery id", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer({ credentials: { user: "herald", pass: "s3cret" } })
      yield* withHerald((herald) => Effect.gen(function* () {
        const d = yield* deliverOne(herald, "sent")
        expect(smtp.mails).toHaveLength(1)
        const [mail] = smtp.mails
        expect(mail!.user).toBe("herald")
        expect(mail!.from).toBe("herald@example.test")
        expect(mail!.to).toEqual(["ops@example.test", "dev@example.test"])
        expect(mail!.raw).toMatch(/^Subject: \[high\] Certificate expires in 3 days$/m)
        expect(mail!.raw).toMatch(new RegExp(`^Message-ID: <${d.id}@herald>$`, "m"))
        expect(mail!.raw).toMatch(new RegExp(`^X-Herald-Delivery-Id: ${d.id}$`, "mi")) // header names are case-insensitive
        expect(mail!.raw).toContain("example.test renews on Friday")
        expect(mail!.raw).toContain('"days": 3')
        expect(d.externalId).toBe(`<${d.id}@herald>`)
      }), undefined, settingsFor(smtp.port, { user: "herald", password: "s3cret" }))
    }))

  it.scoped("a 5xx answer is final, a 4xx answer is retried, each with the server's words", () =>
    Effect.gen(function* () {
      const refusing = yield* smtpServer({ rcpt: () => "550 5.1.1 mailbox unavailable" })
      yield* withHerald((herald) => Effect.gen(function* () {
        const d = yield* deliverOne(herald, "dead")
        expect(d.lastErrorCode).toBe("smtp_550")
        expect(d.lastError).toContain("mailbox unavailable")
      }), undefined, settingsFor(refusing.port))
      const busy = yield* smtpServer({ rcpt: () => "451 4.3.0 try again later" })
      yield* withHerald((herald) => Effect.gen(function* () {
        const d = yield* deliverOne(herald, "retry_wait")
        expect(d.lastErrorCode).toBe("smtp_451")
        expect(d.lastError).toContain("try again later")
      }), undefined, settingsFor(busy.port))
      expect([...refusing.mails, ...busy.mails]).toHaveLength(0)
    }))

  it.scoped("a wrong password is final (535); a server that cannot be reached is retried", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer({ credentials: { user: "herald", pass: "right" } })
      yield* withHerald((herald) => Effect.gen(function* () {
        const d = yield* deliverOne(herald, "dead")
        expect(d.lastErrorCode).toBe("smtp_535")
      }), undefined, settingsFor(smtp.port, { user: "herald", password: "wrong" }))
      const port = yield* Effect.scoped(Effect.map(receiver(), (r) => r.port))
      yield* withHerald((herald) => Effect.gen(function* () {
        const d = yield* deliverOne(herald, "retry_wait")
        expect(d.lastErrorCode).toBe("connect_failed")
        expect(d.lastError).toContain("ECONNREFUSED")
      }), undefined, settingsFor(port))
    }))

  it.scoped("one recipient refused while another takes it: delivered, not repeated to the one who has it", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer({ rcpt: (a) => (a.startsWith("dev@") ? "550 5.1.1 no such user" : undefined) })
      yield* withHerald((herald) => Effect.gen(function* () {
        yield* deliverOne(herald, "sent")
        expect(smtp.mails.map((m) => m.to)).toEqual([["ops@example.test"]])
      }), undefined, settingsFor(smtp.port))
    }))

  // The deadline is the runtime's, so the TestClock drives it; the hang-up is real I/O on a real
  // socket, waited for as the server's own 'close' of the session, within a short bound.
  for (const step of ["rcpt", "data"] as const) {
    it.scoped(`a send cut at its deadline while the server stalls ${step === "rcpt" ? "at RCPT TO" : "after the whole message"} hangs up at once, and the retry sends it once with the same Message-ID`, () =>
      Effect.gen(function* () {
        const smtp = yield* smtpServer({ stallFirst: step })
        yield* withHerald((herald) => Effect.gen(function* () {
          const { notification } = yield* herald.enqueue({ kind: "cert.expiring", title: "Certificate expires in 3 days" })
          yield* whenIo(Effect.sync(() => smtp.stall.started), (started) => started, "the server stalled")
          yield* TestClock.setTime(5_000) // the call's deadline: half the 10 s lease
          const waiting = yield* whenIo(deliveryOf(herald, notification.id), (d) => d.status === "retry_wait", "cut at the deadline")
          expect(waiting.lastErrorCode).toBe("timeout")
          yield* whenIo(Effect.sync(() => smtp.stall.hungUp), (hungUp) => hungUp, "the stalled session closed by the client", 2_000)
          expect(smtp.mails).toHaveLength(0)
          yield* TestClock.setTime(waiting.nextAttemptAt!)
          const sent = yield* whenIo(deliveryOf(herald, notification.id), (d) => d.status === "sent", "sent on the retry")
          expect(sent.attempts).toBe(2)
          expect(smtp.mails.map((m) => messageIdOf(m.raw))).toEqual([`<${sent.id}@herald>`])
          // A server that did get the first message whole (and could not answer) sees the retry as the same message.
          if (step === "data") expect(messageIdOf(smtp.stall.unanswered!.raw)).toBe(`<${sent.id}@herald>`)
        }), undefined, { ...settingsFor(smtp.port), leaseMs: 10_000 })
      }))
  }
})
