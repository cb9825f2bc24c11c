import { describe, expect, it } from "@effect/vitest"
import { sign } from "@octokit/webhooks-methods"
import { verifyGithubSignature } from "../../../src/services/github/signature.js"
import { exampleOf } from "./examples.js"

const secret = "It's a Secret to Everybody"
const body = JSON.stringify(exampleOf("pull_request"))

describe("verifyGithubSignature", () => {
  it("accepts the body GitHub signed with the shared secret", async () => {
    expect(await verifyGithubSignature(secret, body, await sign(secret, body))).toBe(true)
  })

  it("refuses a body changed after signing, by one character", async () => {
    const signature = await sign(secret, body)
    expect(await verifyGithubSignature(secret, body.replace('"opened"', '"closed"'), signature)).toBe(false)
    expect(await verifyGithubSignature(secret, body + " ", signature)).toBe(false)
  })

  it("refuses a signature made with another secret", async () => {
    expect(await verifyGithubSignature(secret, body, await sign("another secret", body))).toBe(false)
  })

  it("refuses a missing, empty or malformed header without throwing", async () => {
    const good = await sign(secret, body)
    for (const header of [undefined, "", "sha256=", good.replace("sha256=", "sha1="), good.slice(7), good.slice(0, -1), `${good}0`, good.toUpperCase()]) {
      expect(await verifyGithubSignature(secret, body, header)).toBe(false)
    }
  })

  it("refuses an empty secret or body, which cannot have been signed", async () => {
    expect(await verifyGithubSignature("", body, await sign(secret, body))).toBe(false)
    expect(await verifyGithubSignature(secret, "", await sign(secret, body))).toBe(false)
  })
})
