/** Handlers of the settings document: read masked, replace whole (a masked secret sent back keeps the stored one); test sends. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Herald } from "../../services/Herald.js"
import { HeraldApi } from "../Api.js"
import { maskSettings, unmaskSettings } from "../SettingsMask.js"
import { storageAsDefect } from "./storage.js"

export const SettingsLive = HttpApiBuilder.group(HeraldApi, "settings", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    return handlers
      .handle("getSettings", () => Effect.map(herald.getSettings, maskSettings))
      .handle("putSettings", ({ payload }) =>
        Effect.gen(function* () {
          const input = yield* unmaskSettings(payload, yield* herald.getSettings)
          return maskSettings(yield* herald.putSettings(input))
        }).pipe(storageAsDefect))
      .handle("testSink", ({ path }) => herald.testSink(path.name).pipe(storageAsDefect))
  }))
