/** A real SMTP server on 127.0.0.1 (smtp-server) for the email sink's tests: it records messages and answers as scripted. */
import { Effect } from "effect"
import type { AddressInfo } from "node:net"
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server"

export interface Mail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly raw: string
  readonly user: string | undefined
}

export interface SmtpScript {
  /** Accepted credentials; without them any AUTH is accepted and AUTH is optional. */
  readonly credentials?: { readonly user: string; readonly pass: string }
  /** An SMTP error for a recipient ("451 ..." or "550 ..."), or undefined to accept it. */
  readonly rcpt?: (address: string) => string | undefined
  /**
   * The first session never answers at this step: its first RCPT TO, or the end of its DATA
   * (the whole message has arrived, the answer that would accept it is never sent).
   */
  readonly stallFirst?: "rcpt" | "data"
}

/** The stalled session, as the server saw it. */
export interface Stall {
  /** The session reached the stalled step. */
  started: boolean
  /** The client closed the stalled session's connection. */
  hungUp: boolean
  /** A message that arrived in full but was never answered (`stallFirst: "data"`). */
  unanswered: Mail | undefined
}

const smtpError = (line: string) => Object.assign(new Error(line.slice(4)), { responseCode: Number(line.slice(0, 3)) })

const mailOf = (session: SMTPServerSession, raw: string): Mail => ({
  from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
  to: session.envelope.rcptTo.map((r) => r.address),
  raw,
  user: typeof session.user === "string" ? session.user : undefined
})

export const smtpServer = (script: SmtpScript = {}) =>
  Effect.acquireRelease(
    Effect.async<{ server: SMTPServer; mails: Array<Mail>; stall: Stall }>((resume) => {
      const mails: Array<Mail> = []
      const stall: Stall = { started: false, hungUp: false, unanswered: undefined }
      let stalledSession: string | undefined
      /** Whether `session` is the one to stall at `step` (the first to get there). */
      const stallsAt = (step: "rcpt" | "data", session: SMTPServerSession) => {
        if (script.stallFirst !== step || stall.started) return false
        stall.started = true
        stalledSession = session.id
        return true
      }
      const options: SMTPServerOptions = {
        disabledCommands: ["STARTTLS"],
        authOptional: script.credentials === undefined,
        allowInsecureAuth: true,
        logger: false,
        onAuth(auth, _session, callback) {
          const c = script.credentials
          if (c !== undefined && (auth.username !== c.user || auth.password !== c.pass)) return callback(smtpError("535 5.7.8 authentication failed"))
          callback(null, { user: auth.username })
        },
        onRcptTo(address, session, callback) {
          if (stallsAt("rcpt", session)) return
          const refusal = script.rcpt?.(address.address)
          callback(refusal === undefined ? null : smtpError(refusal))
        },
        onData(stream, session, callback) {
          let raw = ""
          stream.setEncoding("utf8")
          stream.on("data", (c: string) => { raw += c })
          stream.on("end", () => {
            if (stallsAt("data", session)) {
              stall.unanswered = mailOf(session, raw)
              return
            }
            mails.push(mailOf(session, raw))
            callback()
          })
        },
        onClose(session) {
          if (session.id === stalledSession) stall.hungUp = true
        }
      }
      const server = new SMTPServer(options)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, mails, stall })))
    }),
    ({ server }) => Effect.async<void>((resume) => { server.close(() => resume(Effect.void)) })
  ).pipe(Effect.map(({ server, mails, stall }) => ({ port: (server.server.address() as AddressInfo).port, mails, stall })))
