/**
 * A webhook sink's signing secret as key bytes. A `whsec_` secret is standard base64 after the
 * prefix, as Standard Webhooks and Svix issue them; any other non-empty string is the key's own
 * bytes. A malformed `whsec_` secret is refused rather than used some other way: receivers would
 * decode it differently and every signature would fail with nothing pointing at the cause.
 */
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** The key bytes, or a message saying what is wrong with the secret. */
export const webhookKey = (secret: string): Uint8Array | string => {
  if (secret === "") return "must not be empty: leave the secret out to send unsigned requests"
  if (!secret.startsWith("whsec_")) return Buffer.from(secret, "utf8")
  const encoded = secret.slice("whsec_".length)
  if (encoded === "" || !base64.test(encoded)) return "a whsec_ secret must be standard base64 after the prefix (as Standard Webhooks issue them)"
  return Buffer.from(encoded, "base64")
}

/** Issues for the signing secrets of a settings document's webhook and agent sinks (path `sinks.<name>.secret`). */
export const webhookSecretIssues = (sinks: Readonly<Record<string, { readonly type: string; readonly secret?: string | undefined }>>) =>
  Object.entries(sinks).flatMap(([name, sink]) => {
    if ((sink.type !== "webhook" && sink.type !== "agent") || sink.secret === undefined) return []
    const key = webhookKey(sink.secret)
    return typeof key === "string" ? [{ path: `sinks.${name}.secret`, message: key }] : []
  })
