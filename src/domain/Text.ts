/** Text fields every engine stores and compares as given, with the reason a value is refused. */
import { Schema } from "effect"

/** With the u flag a surrogate pair is one code point, so only a lone surrogate matches. */
const loneSurrogate = /[\uD800-\uDFFF]/u

/** Text SQLite stores and compares as given: no NUL, no lone surrogate (the Schema says which). */
export const isStorableText = (s: string) => !s.includes("\u0000") && !loneSurrogate.test(s)

// SQLite's length() stops at a NUL (a kind of "\u0000" fails its CHECK) and a lone surrogate
// is stored as bytes that read back as other text: both are refused here, at the field.
export const StorableText = Schema.String.pipe(
  Schema.filter((s) => !s.includes("\u0000") || "must not contain a NUL character (\\u0000)"),
  Schema.filter((s) => !loneSurrogate.test(s) || "must be well-formed Unicode: it holds a lone surrogate")
)

/** Storable text of at most `max` characters. */
export const Text = (max: number) =>
  StorableText.pipe(Schema.maxLength(max, { message: () => `at most ${max} characters` }))

/** Storable text of 1 to `max` characters. */
export const NonEmptyText = (max: number) =>
  Text(max).pipe(Schema.minLength(1, { message: () => "must not be empty" }))
