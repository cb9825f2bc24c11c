/**
 * Time-ordered ids (ULID layout: 48-bit milliseconds, 80 random bits, Crockford base32)
 * with a type prefix: `ntf_01J...`, `dlv_01J...`. Sorting by id sorts by creation time,
 * which keyset pagination relies on. Randomness from crypto, drawn from a pool.
 */
import { randomFillSync } from "node:crypto"

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
const pool = new Uint8Array(4096)
let offset = pool.length

const randomByte = () => {
  if (offset >= pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  return pool[offset++]!
}

export const makeId = (prefix: string, nowMs: number): string => {
  let time = ""
  let t = Math.max(0, Math.floor(nowMs))
  for (let i = 0; i < 10; i++) {
    time = alphabet[t % 32] + time
    t = Math.floor(t / 32)
  }
  let rand = ""
  for (let i = 0; i < 16; i++) rand += alphabet[randomByte() & 31]
  return `${prefix}_${time}${rand}`
}

/** Uniform in [0, 1) from the crypto pool: the jitter that FAIL and LEASE_EXPIRED carry. */
export const cryptoJitter = (): number => {
  const hi = (randomByte() << 16) | (randomByte() << 8) | randomByte()
  return hi / 0x1000000
}
