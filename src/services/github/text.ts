/**
 * Free text from GitHub (comment bodies, check output) made storable: a NUL or a lone surrogate
 * becomes U+FFFD and over-long text is cut, so one odd byte does not cost Herald the event.
 */
import { isStorableText } from "../../domain/Text.js"

const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** `text` with what SQLite cannot store replaced, cut to `max` characters without halving a pair. */
export const storableText = (text: string, max: number): string => {
  const clean = isStorableText(text) ? text : text.replace(unstorable, "\uFFFD")
  if (clean.length <= max) return clean
  const cut = clean.slice(0, max)
  // A cut between the halves of a pair would leave a lone high surrogate at the end.
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut
}
