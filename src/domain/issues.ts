/**
 * Decode issues as a person should read them, with the path joined by dots: those of every input
 * Herald decodes (InvalidInput) and of a request's path, query and headers (the HTTP edge). They
 * say where and what was expected, never the value that was sent.
 */

export interface DecodeIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

export interface Issue {
  readonly path: string
  readonly message: string
}

const isOptionalNoise = (i: DecodeIssue) => i.message.startsWith("Expected undefined")
const literalMiss = /^Expected ("(?:[^"\\]|\\.)*")$/

/**
 * Effect's messages carry the value that failed: after it (`Expected string, actual "hunter2"`)
 * or inside it (`Unable to decode "abc" into a number`). Both are cut, at every path: the
 * formatter cannot tell a secret from the rest (at a union the value is a whole sink, secret
 * and all; a password pasted into the wrong field is still a password), and the sender already
 * has what it sent, while an error body ends up in logs, proxies and dashboards. What comes
 * before `, actual` is the schema's own description, so the first occurrence is the cut (and
 * the second form, whose value comes first, is rewritten before it).
 */
const withoutValue = (message: string): string =>
  message
    .replace(/^Unable to decode [\s\S]* into (an? [\w.]+)[\s\S]*$/, "Expected $1")
    .replace(/, actual [\s\S]*$/, "")

/** Whether `inner` is `outer` or lies under it (compared key by key, never by joined text). */
const within = (inner: ReadonlyArray<PropertyKey>, outer: ReadonlyArray<PropertyKey>) =>
  inner.length >= outer.length && outer.every((k, i) => String(k) === String(inner[i]))

/**
 * An optional field with a bad value fails twice, at the value and at the optional ("Expected
 * undefined"); the second is dropped once the first is there. A value outside a set of literals
 * fails once per literal; those become one issue ("Expected one of ...").
 */
export const tidyIssues = (raw: ReadonlyArray<DecodeIssue>): ReadonlyArray<Issue> => {
  const issues = raw.map((i) => ({ path: i.path, message: withoutValue(i.message) }))
  const kept = issues.filter((i) => !isOptionalNoise(i) || !issues.some((o) => o !== i && !isOptionalNoise(o) && within(o.path, i.path)))
  const out: Array<Issue> = []
  const literals = new Map<string, { path: string; expected: Array<string>; at: number }>()
  for (const i of kept) {
    const path = i.path.map(String).join(".")
    const m = literalMiss.exec(i.message)
    if (m === null) {
      out.push({ path, message: i.message })
      continue
    }
    const key = JSON.stringify(i.path.map(String))
    const group = literals.get(key)
    if (group !== undefined) group.expected.push(m[1]!)
    else {
      literals.set(key, { path, expected: [m[1]!], at: out.length })
      out.push({ path, message: i.message })
    }
  }
  for (const g of literals.values()) {
    if (g.expected.length > 1) out[g.at] = { path: g.path, message: `Expected one of ${g.expected.join(", ")}` }
  }
  return out
}
