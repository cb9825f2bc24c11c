/**
 * The private-network guard of the HTTP sinks: a webhook URL is written by whoever may edit the
 * settings, so by default it must not reach loopback, private, link-local or other non-public
 * addresses (SSRF). The check runs on the addresses DNS answers, inside the connection's own
 * lookup, so the address checked is the address connected to (no rebinding in between).
 */
import * as dns from "node:dns"
import * as net from "node:net"

// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are checked against the IPv4 rules by BlockList itself.
const blocked = new net.BlockList()
for (const [address, prefix] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24],
  ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4]
] as const) blocked.addSubnet(address, prefix, "ipv4")
for (const [address, prefix] of [
  ["::", 128], ["::1", 128], ["100::", 64], ["2001:db8::", 32], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8]
] as const) blocked.addSubnet(address, prefix, "ipv6")

/** The 16 bytes of an IPv6 literal (with or without a dotted IPv4 tail). */
const ipv6Bytes = (address: string): Uint8Array => {
  let text = address.replace(/%.*$/, "")
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted !== null) {
    const [a, b, c, d] = dotted[1]!.split(".").map(Number)
    text = text.slice(0, dotted.index) + `${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`
  }
  const [left, right] = text.includes("::") ? text.split("::") : [text, undefined]
  const l = left === "" ? [] : left!.split(":")
  const r = right === undefined || right === "" ? [] : right.split(":")
  const groups = [...l, ...Array(8 - l.length - r.length).fill("0"), ...r].map((g) => parseInt(g, 16))
  return Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff]))
}

/**
 * Prefixes that carry an IPv4 address inside an IPv6 one, and where it sits: NAT64 (RFC 6052's
 * well-known and local-use prefixes), 6to4, and the old IPv4-compatible form. Behind a NAT64
 * gateway `[64:ff9b::a00:5]` reaches 10.0.0.5, so the embedded address is what is checked.
 */
const embeddedIpv4 = (b: Uint8Array): string | undefined => {
  const word = (i: number) => (b[i]! << 8) | b[i + 1]!
  const v4 = (at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`
  if (word(0) === 0x64 && word(2) === 0xff9b && [4, 6, 8, 10].every((i) => word(i) === 0)) return v4(12)
  if (word(0) === 0x64 && word(2) === 0xff9b && word(4) === 1) return v4(12)
  if (word(0) === 0x2002) return v4(2)
  if ([0, 2, 4, 6, 8, 10].every((i) => word(i) === 0) && word(12) !== 0) return v4(12)
  return undefined
}

/** Whether `address` (an IP literal) is not a public unicast address; a non-IP is not. */
export const isPrivateAddress = (address: string): boolean => {
  const family = net.isIP(address)
  if (family === 4) return blocked.check(address, "ipv4")
  if (family !== 6) return false
  if (blocked.check(address, "ipv6")) return true
  const inner = embeddedIpv4(ipv6Bytes(address))
  return inner !== undefined && blocked.check(inner, "ipv4")
}

/** Why a connection was refused: the host is, or resolves only to, non-public addresses. */
export class PrivateAddressError extends Error {
  constructor(readonly host: string, readonly address: string) {
    // An IP literal is not looked up: "resolves to itself" would read as a DNS answer.
    const what = net.isIP(host) !== 0 ? `${host} is a private address` : `${host} resolves to ${address}, which is not a public address`
    super(`${what}; set "allowPrivateNetwork": true on the sink to allow it`)
    this.name = "PrivateAddressError"
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | ReadonlyArray<dns.LookupAddress>, family?: number) => void

/**
 * A `lookup` for http.Agent that answers only public addresses: private ones are dropped, and a
 * host with nothing else fails with PrivateAddressError. IP literals never reach a lookup:
 * check them with `isPrivateAddress` before connecting.
 */
export const publicOnlyLookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, [])
    const usable = addresses.filter((a) => !isPrivateAddress(a.address))
    if (usable.length === 0) return callback(new PrivateAddressError(hostname, addresses[0]?.address ?? "nothing") as NodeJS.ErrnoException, [])
    if (options.all === true) return callback(null, usable)
    callback(null, usable[0]!.address, usable[0]!.family)
  })
}
