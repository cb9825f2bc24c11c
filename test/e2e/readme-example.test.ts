import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { readmeBlocks } from "../support/readme.js"

/** The embedding example in README.md, run as written (with the package name pointed at src/). */
const example = () => {
  const block = readmeBlocks().find((b) => b.marker === "embedding-example" && b.lang === "ts")
  if (!block) throw new Error("README.md has no embedding example block")
  return block.code.replace(/from "herald"/g, `from "${new URL("../../src/index.js", import.meta.url).pathname}"`)
}

describe("README embedding example", () => {
  it("runs as written and delivers its notification", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-readme-"))
    const file = path.join(new URL(".", import.meta.url).pathname, `.readme-example-${process.pid}.ts`)
    const cwd = process.cwd()
    const lines: Array<string> = []
    const log = console.log
    try {
      fs.writeFileSync(file, example())
      process.chdir(dir)
      console.log = (...args: Array<unknown>) => void lines.push(args.join(" "))
      const mod = await import(file)
      await mod.done
    } finally {
      console.log = log
      process.chdir(cwd)
      fs.rmSync(file, { force: true })
      fs.rmSync(dir, { recursive: true, force: true })
    }
    expect(lines.join("\n")).toMatch(/delivered: ntf_\w+ -> sent/)
  })
})
