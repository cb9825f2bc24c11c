/** The `Retry-After` header (RFC 9110): delay-seconds or an HTTP-date, as milliseconds from `now`. */

/** Milliseconds to wait, or undefined when the header is absent or says nothing usable. */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) {
    const seconds = Number(text)
    return Number.isSafeInteger(seconds * 1_000) ? seconds * 1_000 : undefined
  }
  // An HTTP-date, in any of RFC 9110's three forms, names a day of the week first ("Wed, 21 Oct
  // 2015 07:28:00 GMT", "Wednesday, 21-Oct-15 ...", "Wed Oct 21 07:28:00 2015"); a bare number with
  // a sign or a fraction is not one, whatever Date.parse would make of it.
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /.test(text)) return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
