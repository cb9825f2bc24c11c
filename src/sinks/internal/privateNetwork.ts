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

/** Whether `address` (an IP literal) is not a public unicast address; a non-IP is not. */
export const isPrivateAddress = (address: string): boolean => {
  const family = net.isIP(address)
  return family === 4 ? blocked.check(address, "ipv4") : family === 6 ? blocked.check(address, "ipv6") : false
}

/** Why a connection was refused: the host resolves only to non-public addresses. */
export class PrivateAddressError extends Error {
  constructor(readonly host: string, readonly address: string) {
    super(`${host} resolves to ${address}, which is not a public address; set "allowPrivateNetwork": true on the sink to allow it`)
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
