/**
 * Whether a webhook body is the one GitHub signed with the shared secret (X-Hub-Signature-256).
 * The HMAC and its constant-time compare are @octokit/webhooks-methods'.
 */
import { verify } from "@octokit/webhooks-methods"

const signatureHeader = /^sha256=[0-9a-f]{64}$/

/**
 * True only when `header` is `sha256=<hex>` of `rawBody` (the bytes as received, before any JSON
 * parse) under `secret`. A missing or malformed header, an empty secret or an empty body is false.
 */
export const verifyGithubSignature = async (secret: string, rawBody: string, header: string | undefined): Promise<boolean> => {
  // verify throws on an empty argument; here each of those is simply not a valid signature.
  if (header === undefined || !signatureHeader.test(header) || secret === "" || rawBody === "") return false
  return verify(secret, rawBody, header)
}
