/** README.md's fenced code blocks, for the tests that run its examples as written. */
import * as fs from "node:fs"

export interface CodeBlock {
  /** The fence's language ("sh", "ts", "json"), "" for none. */
  readonly lang: string
  readonly code: string
  /** An HTML comment on the line before the fence (`<!-- embedding-example -->`), if any. */
  readonly marker: string | undefined
}

export const readmePath = new URL("../../README.md", import.meta.url).pathname

/** Every fenced block, indented ones (inside a list item) too, with the indentation removed. */
export const readmeBlocks = (text = fs.readFileSync(readmePath, "utf8")): ReadonlyArray<CodeBlock> =>
  [...text.matchAll(/(?:<!-- ([\w-]+) -->\n)?^( *)```(\w*)\n([\s\S]*?)^\2```$/gm)].map((m) => ({
    lang: m[3]!,
    marker: m[1],
    code: m[4]!.split("\n").map((line) => line.slice(m[2]!.length)).join("\n")
  }))

/**
 * The commands of a shell block: continuation lines joined, comments dropped (a `#` at a word's
 * start outside quotes, as the shell reads it) except that `# or: other command` is one more
 * command, and `a && b` split in two.
 */
export const shellCommands = (code: string): ReadonlyArray<string> =>
  code.replace(/\\\n\s*/g, "").split("\n").flatMap((line) => {
    let out = ""
    let comment = ""
    let quote: string | undefined
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!
      if (quote !== undefined) {
        if (c === quote) quote = undefined
      } else if (c === "'" || c === '"') quote = c
      else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) {
        comment = line.slice(i)
        break
      }
      out += c
    }
    const alternative = /^#\s*or:\s*(.+)$/.exec(comment)?.[1]
    return [out, ...(alternative === undefined ? [] : [alternative])].flatMap((c) => c.split("&&")).map((c) => c.trim()).filter((c) => c !== "")
  })
