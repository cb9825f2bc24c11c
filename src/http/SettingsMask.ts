/**
 * Secrets in the settings document leave the API masked; a masked value sent back in a PUT
 * keeps the stored secret if its destination is unchanged. A masked value where nothing is
 * stored, or whose destination changed, is refused with its path. A webhook URL is masked in
 * part (its credentials), so it still says where deliveries go.
 */
import { Effect, Schema } from "effect"
import { InvalidInput } from "../domain/errors.js"
import { Settings, type SettingsInput } from "../domain/Settings.js"

export const masked = "********"

/** Secret fields by sink type (a Slack webhook URL is a credential). */
const secretFields: Readonly<Record<string, ReadonlyArray<string>>> = {
  webhook: ["secret"],
  agent: ["secret"],
  email: ["password"],
  slack: ["url"]
}

/** URLs masked in part: credentials hidden, destination shown (a Slack URL is a secret whole). */
const urlFields: Readonly<Record<string, ReadonlyArray<string>>> = {
  webhook: ["url"]
}

const urlMask = "***"

/**
 * A URL with whatever may be a credential masked: the userinfo, every query value (a bare
 * parameter whole, it may be the token) and the fragment. Scheme, host, port and path stay.
 * A masked URL is its own mask, so an echo is recognised by comparing masks.
 */
export const maskUrl = (url: string): string => {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return masked // a stored URL always parses; anything else is hidden whole
  }
  const userinfo = u.username !== "" || u.password !== "" ? `${urlMask}@` : ""
  const query = u.search === ""
    ? ""
    : `?${u.search.slice(1).split("&").map((p) => (p.includes("=") ? `${p.slice(0, p.indexOf("="))}=${urlMask}` : urlMask)).join("&")}`
  const fragment = u.hash === "" ? "" : `#${urlMask}`
  return `${u.protocol}//${userinfo}${u.host}${u.pathname}${query}${fragment}`
}

/** Whether `url` is a mask with something masked in it (not a URL to store as it is). */
const carriesMask = (url: string) => {
  if (maskUrl(url) !== url) return false
  const u = new URL(url)
  return u.username !== "" || u.search !== "" || u.hash !== ""
}

/**
 * Where each secret goes. A masked secret is kept only while these are unchanged: otherwise
 * anyone allowed to edit settings could send the stored password to a server of their own.
 */
const boundTo: Readonly<Record<string, ReadonlyArray<string>>> = {
  webhook: ["url"],
  // Its destination is each session's endpoint, not in the document: nothing here moves it.
  agent: [],
  email: ["host", "port", "user", "secure"],
  slack: []
}

type SinkDoc = Record<string, unknown>
const encode = Schema.encodeSync(Settings)

export const maskSettings = (settings: Settings): SettingsInput => {
  const doc = encode(settings)
  const sinks: Record<string, SinkDoc> = {}
  for (const [name, sink] of Object.entries(doc.sinks ?? {})) {
    const copy: SinkDoc = { ...sink }
    for (const field of secretFields[sink.type] ?? []) if (typeof copy[field] === "string") copy[field] = masked
    for (const field of urlFields[sink.type] ?? []) if (typeof copy[field] === "string") copy[field] = maskUrl(copy[field])
    sinks[name] = copy
  }
  const github = doc.integrations?.github
  // GitHub's webhook secret proves deliveries are GitHub's: whoever reads it can forge them.
  const integrations = github === undefined ? doc.integrations : { ...doc.integrations, github: { ...github, secret: masked } }
  return { ...doc, sinks, ...(integrations === undefined ? {} : { integrations }) } as SettingsInput
}

/**
 * The masked GitHub secret sent back is the stored one. It is bound to no destination: Herald
 * only checks with it what arrives, it never sends it anywhere.
 */
const unmaskIntegrations = (input: object, stored: Settings, issues: Array<{ path: string; message: string }>): object => {
  const integrations = (input as { integrations?: unknown }).integrations
  if (typeof integrations !== "object" || integrations === null) return input
  const github = (integrations as { github?: unknown }).github
  if (typeof github !== "object" || github === null || (github as { secret?: unknown }).secret !== masked) return input
  const secret = stored.integrations.github?.secret
  if (secret === undefined) {
    issues.push({ path: "integrations.github.secret", message: "a masked value can only be sent back for a secret that is stored; send the real value" })
    return input
  }
  return { ...input, integrations: { ...integrations, github: { ...github, secret } } }
}

/** Puts the stored secrets back where `input` carries the mask. */
export const unmaskSettings = (input: unknown, stored: Settings): Effect.Effect<unknown, InvalidInput> => {
  if (typeof input !== "object" || input === null) return Effect.succeed(input)
  const issues: Array<{ path: string; message: string }> = []
  const withIntegrations = unmaskIntegrations(input, stored, issues)
  const sinks = (input as { sinks?: unknown }).sinks
  if (typeof sinks !== "object" || sinks === null) {
    return issues.length > 0 ? Effect.fail(new InvalidInput({ what: "settings", issues })) : Effect.succeed(withIntegrations)
  }
  const storedSinks = encode(stored).sinks ?? {}
  const restored: Record<string, unknown> = {}
  for (const [name, sink] of Object.entries(sinks as Record<string, unknown>)) {
    if (typeof sink !== "object" || sink === null) {
      restored[name] = sink
      continue
    }
    const copy: SinkDoc = { ...(sink as SinkDoc) }
    const previous = storedSinks[name] as SinkDoc | undefined
    // URLs first: a masked URL sent back is the stored one, which the secrets below are bound to.
    for (const field of urlFields[String(copy["type"])] ?? []) {
      const sent = copy[field]
      if (typeof sent !== "string") continue
      const stored = previous?.["type"] === copy["type"] ? previous?.[field] : undefined
      if (typeof stored === "string" && sent === maskUrl(stored)) copy[field] = stored
      else if (carriesMask(sent)) {
        issues.push({ path: `sinks.${name}.${field}`, message: "a masked URL can only be sent back unchanged, for the URL that is stored; send the real URL" })
      }
    }
    for (const field of secretFields[String(copy["type"])] ?? []) {
      if (copy[field] !== masked) continue
      if (previous === undefined || previous["type"] !== copy["type"] || typeof previous[field] !== "string") {
        issues.push({ path: `sinks.${name}.${field}`, message: "a masked value can only be sent back for a secret that is stored; send the real value" })
        continue
      }
      // `secure` defaults to false: leaving it out is not a change.
      const same = (f: string) => (f === "secure" ? (previous[f] === true) === (copy[f] === true) : previous[f] === copy[f])
      const moved = (boundTo[String(copy["type"])] ?? []).filter((f) => !same(f))
      if (moved.length > 0) {
        issues.push({ path: `sinks.${name}.${field}`, message: `${moved.join(", ")} changed: send the real ${field} again, the stored one stays with its old destination` })
        continue
      }
      copy[field] = previous[field]
    }
    restored[name] = copy
  }
  if (issues.length > 0) return Effect.fail(new InvalidInput({ what: "settings", issues }))
  return Effect.succeed({ ...withIntegrations, sinks: restored })
}
