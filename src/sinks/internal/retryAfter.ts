/** The `Retry-After` header (RFC 9110): delay-seconds or an HTTP-date, as milliseconds from `now`. */

/** Milliseconds to wait, or undefined when the header is absent or says nothing usable. */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) {
    const seconds = Number(text)
    return Number.isSafeInteger(seconds * 1_000) ? seconds * 1_000 : undefined
  }
  // An HTTP-date names a day of the week first ("Wed, 21 Oct 2015 07:28:00 GMT"); a bare number
  // with a sign or a fraction is not one, whatever Date.parse would make of it.
  if (!/^[A-Za-z]{3},/.test(text)) return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
