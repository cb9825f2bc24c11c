/**
 * Splits a migration file into statements where SQLite would: on `;` outside quotes and
 * comments, and inside CREATE TRIGGER only after the body's closing END (trigger bodies
 * hold semicolons). better-sqlite3 prepares one statement at a time.
 */
export const splitSql = (text: string): Array<string> => {
  const statements: Array<string> = []
  let start = 0
  let depth = 0 // BEGIN/CASE ... END nesting inside a trigger body
  let inTrigger = false
  let i = 0
  const words: Array<string> = [] // the statement's first words, to recognise CREATE TRIGGER
  const push = (end: number) => {
    // Leading comments belong to no statement: drop them so each statement starts with its keyword.
    const s = text.slice(start, end).replace(/^(\s+|--[^\n]*|\/\*[\s\S]*?\*\/)*/, "").trim()
    if (s.length > 0) statements.push(s)
    start = end + 1
    depth = 0
    inTrigger = false
    words.length = 0
  }
  while (i < text.length) {
    const c = text[i]!
    if (c === "-" && text[i + 1] === "-") {
      const nl = text.indexOf("\n", i)
      i = nl === -1 ? text.length : nl + 1
      continue
    }
    if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2)
      if (close === -1) throw new Error(`unterminated /* comment at offset ${i}`)
      i = close + 2
      continue
    }
    if (c === "'" || c === '"' || c === "`" || c === "[") {
      const closer = c === "[" ? "]" : c
      let j = i + 1
      for (;;) {
        if (j >= text.length) throw new Error(`unterminated ${c} quote at offset ${i}`)
        if (text[j] === closer) {
          if (closer !== "]" && text[j + 1] === closer) {
            j += 2
            continue
          }
          break
        }
        j++
      }
      i = j + 1
      continue
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i
      while (j < text.length && /[A-Za-z0-9_$]/.test(text[j]!)) j++
      const word = text.slice(i, j).toUpperCase()
      if (words.length < 4) {
        words.push(word)
        if (words[0] === "CREATE" && (word === "TRIGGER")) inTrigger = true
      }
      if (inTrigger) {
        if (word === "BEGIN" || word === "CASE") depth++
        else if (word === "END") depth = Math.max(0, depth - 1)
      }
      i = j
      continue
    }
    if (c === ";" && depth === 0) push(i)
    i++
  }
  push(text.length)
  return statements
}
