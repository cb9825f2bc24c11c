/** Handlers of the sinks' status: list, one sink, a hand reset of its circuit. The statuses are SinkStatuses'. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Herald } from "../../services/Herald.js"
import { HeraldApi } from "../Api.js"
import { storageAsDefect } from "./storage.js"

export const SinksLive = HttpApiBuilder.group(HeraldApi, "sinks", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    return handlers
      .handle("listSinks", () => Effect.map(herald.listSinks().pipe(storageAsDefect), (sinks) => ({ sinks })))
      .handle("getSink", ({ path }) => herald.getSink(path.name).pipe(storageAsDefect))
      .handle("resetCircuit", ({ path }) => herald.resetCircuit(path.name).pipe(storageAsDefect))
  }))
