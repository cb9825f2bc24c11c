/**
 * The `email` sink: one message per delivery over SMTP (nodemailer), to the sink's `to` list.
 * The Message-ID is derived from the delivery id, the same on every attempt, so a receiving
 * system can drop a repeat; `X-Herald-Delivery-Id` carries the id itself.
 *
 * What an SMTP answer means: 4xx is temporary (retried), 5xx is permanent (dead-lettered with the
 * server's words), as RFC 5321 defines them. A connection that fails or times out is retried.
 *
 * A call cut at its deadline (or at shutdown) closes its SMTP connection: a send left running
 * could finish its DATA after the retry was scheduled and deliver the message twice.
 */
import { Effect } from "effect"
import nodemailer, { type Transporter } from "nodemailer"
import type SMTPTransport from "nodemailer/lib/smtp-transport/index.js"
import type { SinkConfig } from "../domain/Settings.js"
import { type Sink, type SinkDelivery, SinkFailure } from "../domain/Sink.js"

type EmailConfig = Extract<SinkConfig, { type: "email" }>

/**
 * Connection, greeting and idle-socket limits: a backstop for a socket that goes quiet. The call's
 * own deadline (half a lease) is kept by the dispatcher, whose interruption aborts the send.
 */
const timeoutMs = 10_000

export const emailSubject = (n: SinkDelivery["notification"]) =>
  `${n.priority === "urgent" || n.priority === "high" ? `[${n.priority}] ` : ""}${n.title}`.replace(/[\r\n]+/g, " ")

export const emailText = (d: SinkDelivery) => {
  const n = d.notification
  const lines = [n.title, ""]
  if (n.body !== "") lines.push(n.body, "")
  lines.push(`kind: ${n.kind}`, `priority: ${n.priority}`)
  if (n.projectId !== null) lines.push(`project: ${n.projectId}`)
  if (n.sessionId !== null) lines.push(`session: ${n.sessionId}`)
  if (Object.keys(n.payload).length > 0) lines.push("", JSON.stringify(n.payload, null, 2))
  lines.push("", `-- Herald, delivery ${d.deliveryId} (attempt ${d.attempt})`)
  return lines.join("\n")
}

/** An SMTP or socket error as the delivery's failure. */
export const emailFailure = (e: unknown): SinkFailure => {
  const err = e as { responseCode?: unknown; code?: unknown; response?: unknown; message?: unknown }
  const message = typeof err.response === "string" && err.response !== "" ? err.response : String(err.message ?? e)
  if (typeof err.responseCode === "number") {
    return new SinkFailure({ retryable: err.responseCode < 500, code: `smtp_${err.responseCode}`, message: `the SMTP server answered: ${message}` })
  }
  return new SinkFailure({ retryable: true, code: "connect_failed", message: `could not talk to the SMTP server: ${message}` })
}

const transportKey = (c: EmailConfig) => JSON.stringify([c.host, c.port, c.secure, c.user ?? null, c.password ?? null])

export const makeEmailSink = Effect.gen(function* () {
  const transports = new Map<string, Transporter<SMTPTransport.SentMessageInfo>>()
  yield* Effect.addFinalizer(() => Effect.sync(() => {
    for (const t of transports.values()) t.close()
    transports.clear()
  }))
  const transportFor = (c: EmailConfig) => {
    const key = transportKey(c)
    let t = transports.get(key)
    if (t === undefined) {
      // A changed host or password makes a new key; old transports are closed once there are 20.
      for (const [k, old] of transports) if (k !== key && transports.size >= 20) { old.close(); transports.delete(k) }
      t = nodemailer.createTransport({
        host: c.host,
        port: c.port,
        secure: c.secure,
        ...(c.user !== undefined ? { auth: { user: c.user, pass: c.password ?? "" } } : {}),
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs
      })
      transports.set(key, t)
    }
    return t
  }
  const sink: Sink = {
    deliver: (config, d) =>
      Effect.gen(function* () {
        if (config.type !== "email") return yield* Effect.dieMessage(`the email sink was handed a ${config.type} sink`)
        const transport = transportFor(config)
        // The signal is aborted when this fiber is interrupted; nodemailer then closes the connection.
        const info = yield* Effect.tryPromise({
          try: (signal) => transport.sendMail({
            from: config.from,
            to: [...config.to],
            subject: emailSubject(d.notification),
            text: emailText(d),
            messageId: `<${d.deliveryId}@herald>`,
            headers: { "X-Herald-Delivery-Id": d.deliveryId, "X-Herald-Kind": d.notification.kind },
            signal
          }),
          catch: emailFailure
        })
        // Some recipients refused while others took it: delivered (a retry would repeat it to
        // those who have it), and the refused ones are logged.
        if (info.rejected.length > 0) {
          yield* Effect.logWarning("email: some recipients were refused").pipe(
            Effect.annotateLogs({ deliveryId: d.deliveryId, sink: d.sink, rejected: info.rejected.map(String).join(", ") })
          )
        }
        return { externalId: info.messageId }
      })
  }
  return sink
})
