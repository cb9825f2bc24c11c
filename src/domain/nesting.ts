/**
 * How deeply arrays and objects nest, in JSON text and in decoded values, measured without
 * recursion: input nested deeper than the JavaScript stack (a few thousand levels) must be
 * refused, not overflow the code that would have reported it.
 */

/**
 * The deepest a notification's payload may nest (the payload object itself is level 1).
 * Far below SQLite's JSON limit (1,000 levels, past which json_valid refuses the row) and
 * below `maxInputDepth`, so a payload too deep is reported at its field.
 */
export const maxPayloadDepth = 64

/**
 * The deepest any input may nest: a request body, or a value given to the library. No
 * document Herald takes needs more than a handful of levels around a payload; recursive
 * code that formats, hashes or copies input (Schema's error messages, JSON.stringify)
 * stays far from the stack's end.
 */
export const maxInputDepth = 100

/**
 * Whether the JSON text `text` nests deeper than `limit` levels: `[` and `{` counted
 * outside strings. Exact for valid JSON; for invalid text the parser's error decides.
 */
export const jsonTextExceeds = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: the next character is escaped, a quote included
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

/**
 * The first top-level key (or "" for the value itself) under which `value` nests deeper
 * than `limit` levels of arrays and objects; undefined when it does not. A node shared by
 * several parents is walked again only when reached deeper than before, so shared or cyclic
 * structures cost at most `limit` visits a node.
 */
export const valueExceeds = (value: unknown, limit: number): string | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const deepest = new Map<object, number>()
  const stack: Array<{ readonly node: object; readonly depth: number; readonly top: string }> = [{ node: value, depth: 1, top: "" }]
  while (stack.length > 0) {
    const { node, depth, top } = stack.pop()!
    if (depth > limit) return top
    if ((deepest.get(node) ?? 0) >= depth) continue
    deepest.set(node, depth)
    const keys = Object.keys(node)
    // Pushed last to first, so keys are walked in their order and the first one is named.
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!
      const child = (node as Record<string, unknown>)[key]
      if (typeof child === "object" && child !== null) {
        stack.push({ node: child, depth: depth + 1, top: depth === 1 ? key : top })
      }
    }
  }
  return undefined
}
