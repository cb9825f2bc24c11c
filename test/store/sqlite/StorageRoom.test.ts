import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { diskFull } from "../../../src/store/sqlite/StorageRoom.js"
import { tempDir } from "../../support/herald.js"

describe("StorageRoom", () => {
  it.scoped("the disk counts as full when it has less free space than a thousand database pages, and not before", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "herald.db")
      const disk = fs.statfsSync(path.dirname(file))
      const free = disk.bavail * disk.bsize
      // Pages so large that a thousand of them do not fit in what this disk has free.
      const full = yield* diskFull(file, Math.ceil(free / 1_000) + disk.bsize)
      expect(Option.getOrThrow(full)).toMatch(/^the disk holding the database has \d+ bytes free$/)
      expect(yield* diskFull(file, Math.floor(free / 2_000))).toEqual(Option.none())
    }))
})
