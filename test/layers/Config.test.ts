import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { DaemonConfig } from "../../src/layers/Config.js"
import { tempDir } from "../support/herald.js"

const read = (env: Record<string, string>) =>
  Effect.withConfigProvider(DaemonConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("DaemonConfig", () => {
  it.scoped("HERALD_LOG_DIR is unset by default (log sinks write to stdout only), an existing directory, or a failure naming it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      expect((yield* read({})).logDir).toEqual(Option.none())
      expect((yield* read({ HERALD_LOG_DIR: dir })).logDir).toEqual(Option.some(dir))
      fs.writeFileSync(path.join(dir, "file"), "")
      for (const bad of [path.join(dir, "missing"), path.join(dir, "file")]) {
        const error = yield* Effect.flip(read({ HERALD_LOG_DIR: bad }))
        expect(String(error)).toContain("HERALD_LOG_DIR")
        expect(String(error)).toContain("must be an existing directory")
      }
    }))
})
