/**
 * Time-ordered ids (ULID layout: 48-bit milliseconds, 80 random bits, Crockford base32)
 * with a type prefix: `ntf_01J...`, `dlv_01J...`. Sorting by id sorts by creation time,
 * which keyset pagination relies on. Monotonic like ULID's monotonic mode: within one
 * millisecond (or if the clock steps back) the random part counts up, so a process's ids
 * strictly increase and each insert lands at the end of its index. Randomness from crypto.
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

let lastTime = -1
const digits = new Uint8Array(16)

/** Adds one to the random part; false when it was all ones (then it is drawn afresh). */
const increment = () => {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]!++
      return true
    }
    digits[i] = 0
  }
  return false
}

export const makeId = (prefix: string, nowMs: number): string => {
  let t = Math.max(0, Math.floor(nowMs))
  if (t <= lastTime && increment()) {
    t = lastTime
  } else {
    lastTime = Math.max(t, lastTime)
    t = lastTime
    for (let i = 0; i < digits.length; i++) digits[i] = randomByte() & 31
  }
  let time = ""
  for (let i = 0; i < 10; i++) {
    time = alphabet[t % 32] + time
    t = Math.floor(t / 32)
  }
  let rand = ""
  for (let i = 0; i < digits.length; i++) rand += alphabet[digits[i]!]
  return `${prefix}_${time}${rand}`
}
