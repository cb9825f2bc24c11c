/**
 * Settings documents full of made-up secrets, for properties that no secret ever leaves: in a
 * masked document, in a decode error, in a log line.
 */
import fc from "fast-check"

/** A secret as people paste them: long enough not to occur by chance, any characters a JSON string holds. */
const anySecret = fc.string({ minLength: 10, maxLength: 30 }).map((s) => `S3${s}`)
/** A secret that sits in a URL as it is (userinfo, query value, Slack's hook path). */
const urlSecret = fc.stringMatching(/^[A-Za-z0-9_-]{10,30}$/).map((s) => `u5${s}`)

export interface Secrets {
  readonly webhookSecret: string
  readonly agentSecret: string
  readonly password: string
  readonly user: string
  readonly urlPassword: string
  readonly urlToken: string
  readonly bareToken: string
  readonly slackPath: string
  readonly githubSecret: string
}

export const secrets: fc.Arbitrary<Secrets> = fc.record({
  webhookSecret: anySecret,
  agentSecret: anySecret,
  password: anySecret,
  user: urlSecret,
  urlPassword: urlSecret,
  urlToken: urlSecret,
  bareToken: urlSecret,
  slackPath: urlSecret,
  githubSecret: anySecret
})

/** Every secret of `s`, as it was written and as JSON escapes it. */
export const forms = (s: Secrets): ReadonlyArray<string> =>
  Object.values(s).flatMap((v) => [v, JSON.stringify(v).slice(1, -1)])

export const missing = (text: string, s: Secrets) => forms(s).filter((f) => text.includes(f))

/** A valid document carrying every secret of `s`; `withUserinfo`/`withQuery` vary the webhook URL. */
export const documentWith = (s: Secrets, shape: { readonly userinfo: boolean; readonly query: boolean }) => ({
  enabled: true,
  sinks: {
    hook: {
      type: "webhook",
      url: `https://${shape.userinfo ? `${s.user}:${s.urlPassword}@` : ""}hooks.example.com/in/herald${shape.query ? `?token=${s.urlToken}&${s.bareToken}&team=ops` : ""}`,
      secret: s.webhookSecret
    },
    agents: { type: "agent", secret: s.agentSecret },
    chat: { type: "slack", url: `https://hooks.slack.com/services/T000/B000/${s.slackPath}` },
    mail: { type: "email", host: "smtp.example.com", port: 587, user: "herald", password: s.password, from: "h@example.com", to: ["ops@example.com"] },
    stdout: { type: "log" }
  },
  routes: [{ sink: "stdout", minPriority: "low" }],
  integrations: { github: { secret: s.githubSecret } }
})

/** Ways to get a document wrong with a secret in the way: wrong types, wrong places, unknown sinks. */
export const spoilers: ReadonlyArray<(doc: ReturnType<typeof documentWith>, s: Secrets) => unknown> = [
  (d, s) => ({ ...d, sinks: { ...d.sinks, hook: { ...d.sinks.hook, secret: { value: s.webhookSecret } } } }),
  (d, s) => ({ ...d, sinks: { ...d.sinks, hook: { ...d.sinks.hook, secret: [s.webhookSecret] } } }),
  (d, s) => ({ ...d, sinks: { ...d.sinks, mail: { ...d.sinks.mail, password: { v: s.password } } } }),
  (d, s) => ({ ...d, sinks: { ...d.sinks, mail: { ...d.sinks.mail, port: s.password } } }),
  (d, s) => ({ ...d, sinks: { ...d.sinks, hook: { ...d.sinks.hook, timeoutMs: s.webhookSecret } } }),
  (d, s) => ({ ...d, sinks: { ...d.sinks, hook: { ...d.sinks.hook, enabled: s.webhookSecret } } }),
  (d) => ({ ...d, sinks: { ...d.sinks, hook: { ...d.sinks.hook, url: { href: d.sinks.hook.url } } } }),
  (d) => ({ ...d, sinks: { ...d.sinks, hook: { ...d.sinks.hook, type: "web-hook" } } }),
  (d) => ({ ...d, sinks: { ...d.sinks, chat: { ...d.sinks.chat, type: "slak" } } }),
  (d) => ({ ...d, sinks: { ...d.sinks, mail: { ...d.sinks.mail, to: [] } } }),
  (d, s) => ({ ...d, sinks: { ...d.sinks, hook: s.webhookSecret } }),
  (d, s) => ({ ...d, routes: [{ sink: "stdout", minPriority: s.password }] }),
  (d, s) => ({ ...d, leaseMs: s.password }),
  (d, s) => ({ ...d, sinks: { ...d.sinks, hook: { ...d.sinks.hook, signingKey: s.webhookSecret } } })
]
