import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { isPrivateAddress, PrivateAddressError, publicOnlyLookup } from "../../src/sinks/internal/privateNetwork.js"
import { parseRetryAfter } from "../../src/sinks/internal/retryAfter.js"

describe("parseRetryAfter", () => {
  it("reads delay-seconds and HTTP-dates, and nothing else", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 2 ** 40 }), (s, now) => {
      expect(parseRetryAfter(String(s), now)).toBe(s * 1_000)
      expect(parseRetryAfter(` ${s} `, now)).toBe(s * 1_000)
    }))
    const now = Date.parse("2026-11-23T12:00:00Z")
    expect(parseRetryAfter("Mon, 23 Nov 2026 12:01:30 GMT", now)).toBe(90_000)
    expect(parseRetryAfter("Mon, 23 Nov 2026 11:00:00 GMT", now)).toBe(0) // a date gone by: now
    expect(parseRetryAfter("Monday, 23-Nov-26 12:00:10 GMT", now)).toBe(10_000) // RFC 850
    expect(parseRetryAfter("Mon Nov 23 12:00:20 2026", Date.parse("2026-11-23T12:00:00"))).toBe(20_000) // asctime, local time as Date.parse reads it
    for (const bad of [undefined, "", "soon", "-5", "1.5", "1e3", "2026-11-23"]) expect(parseRetryAfter(bad, now)).toBeUndefined()
  })
})

describe("the private-network guard", () => {
  it("refuses loopback, private, link-local, shared, reserved and documentation ranges, and allows public addresses", () => {
    for (const ip of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
      "::1", "::", "fe80::1", "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2001:db8::1",
      "64:ff9b::a00:5", "64:ff9b::127.0.0.1", "64:ff9b:1::c0a8:101", "2002:7f00:1::", "2002:a00:1:0:0:0:0:1", "::7f00:1", "::10.0.0.1"]) {
      expect(isPrivateAddress(ip), ip).toBe(true)
    }
    for (const ip of ["8.8.8.8", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "172.32.0.1", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001::200e"]) expect(isPrivateAddress(ip), ip).toBe(false)
    fc.assert(fc.property(fc.nat(255), fc.nat(255), fc.nat(255), (a, b, c) => {
      expect(isPrivateAddress(`10.${a}.${b}.${c}`)).toBe(true)
      expect(isPrivateAddress(`127.${a}.${b}.${c}`)).toBe(true)
      expect(isPrivateAddress(`192.168.${a}.${b}`)).toBe(true)
    }))
  })

  it("a name that resolves only to private addresses fails its lookup with a message that says what to set", async () => {
    const err = await new Promise<unknown>((resolve) => publicOnlyLookup("localhost", {}, (e) => resolve(e)))
    expect(err).toBeInstanceOf(PrivateAddressError)
    expect((err as Error).message).toMatch(/^localhost resolves to .*, which is not a public address/)
    expect((err as Error).message).toContain("allowPrivateNetwork")
  })

  it("an IP literal is refused as a private address, not as a name that resolves to itself", () => {
    for (const ip of ["10.0.0.5", "::1", "fd12:3456::1"]) {
      const message = new PrivateAddressError(ip, ip).message
      expect(message).toMatch(new RegExp(`^${ip.replace(/[.]/g, "\\.")} is a private address;`))
      expect(message).not.toContain("resolves to")
      expect(message).toContain("allowPrivateNetwork")
    }
  })
})
