/**
 * Decode issues as a person should read them, with the path joined by dots: those of every input
 * Herald decodes (InvalidInput) and of a request's path, query and headers (the HTTP edge).
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
const literalMiss = /^Expected ("(?:[^"\\]|\\.)*"), actual (.*)$/

/** Whether `inner` is `outer` or lies under it (compared key by key, never by joined text). */
const within = (inner: ReadonlyArray<PropertyKey>, outer: ReadonlyArray<PropertyKey>) =>
  inner.length >= outer.length && outer.every((k, i) => String(k) === String(inner[i]))

/**
 * An optional field with a bad value fails twice, at the value and at the optional ("Expected
 * undefined"); the second is dropped once the first is there. A value outside a set of literals
 * fails once per literal; those become one issue ("Expected one of ...").
 */
export const tidyIssues = (issues: ReadonlyArray<DecodeIssue>): ReadonlyArray<Issue> => {
  const kept = issues.filter((i) => !isOptionalNoise(i) || !issues.some((o) => o !== i && !isOptionalNoise(o) && within(o.path, i.path)))
  const out: Array<Issue> = []
  const literals = new Map<string, { path: string; expected: Array<string>; actual: string; at: number }>()
  for (const i of kept) {
    const path = i.path.map(String).join(".")
    const m = literalMiss.exec(i.message)
    if (m === null) {
      out.push({ path, message: i.message })
      continue
    }
    const key = JSON.stringify([i.path.map(String), m[2]])
    const group = literals.get(key)
    if (group !== undefined) group.expected.push(m[1]!)
    else {
      literals.set(key, { path, expected: [m[1]!], actual: m[2]!, at: out.length })
      out.push({ path, message: i.message })
    }
  }
  for (const g of literals.values()) {
    if (g.expected.length > 1) out[g.at] = { path: g.path, message: `Expected one of ${g.expected.join(", ")}, actual ${g.actual}` }
  }
  return out
}
