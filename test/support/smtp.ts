/** A real SMTP server on 127.0.0.1 (smtp-server) for the email sink's tests: it records messages and answers as scripted. */
import { Effect } from "effect"
import type { AddressInfo } from "node:net"
import { SMTPServer, type SMTPServerOptions } from "smtp-server"

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
}

const smtpError = (line: string) => Object.assign(new Error(line.slice(4)), { responseCode: Number(line.slice(0, 3)) })

export const smtpServer = (script: SmtpScript = {}) =>
  Effect.acquireRelease(
    Effect.async<{ server: SMTPServer; mails: Array<Mail> }>((resume) => {
      const mails: Array<Mail> = []
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
        onRcptTo(address, _session, callback) {
          const refusal = script.rcpt?.(address.address)
          callback(refusal === undefined ? null : smtpError(refusal))
        },
        onData(stream, session, callback) {
          let raw = ""
          stream.setEncoding("utf8")
          stream.on("data", (c: string) => { raw += c })
          stream.on("end", () => {
            const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address
            mails.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw, user: typeof session.user === "string" ? session.user : undefined })
            callback()
          })
        }
      }
      const server = new SMTPServer(options)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, mails })))
    }),
    ({ server }) => Effect.async<void>((resume) => { server.close(() => resume(Effect.void)) })
  ).pipe(Effect.map(({ server, mails }) => ({ port: (server.server.address() as AddressInfo).port, mails })))
