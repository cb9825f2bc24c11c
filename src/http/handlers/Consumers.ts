/** Handlers of durable consumers: list, get, commit an offset, delete. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Herald } from "../../services/Herald.js"
import { HeraldApi } from "../Api.js"
import { storageAsDefect } from "./storage.js"

export const ConsumersLive = HttpApiBuilder.group(HeraldApi, "consumers", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    return handlers
      .handle("listConsumers", () => Effect.map(herald.listConsumers().pipe(storageAsDefect), (items) => ({ items })))
      .handle("getConsumer", ({ path }) => herald.getConsumer(path.name).pipe(storageAsDefect))
      .handle("commitOffset", ({ path, payload }) => herald.commitOffset(path.name, payload.seq).pipe(storageAsDefect))
      .handle("deleteConsumer", ({ path }) => herald.deleteConsumer(path.name).pipe(storageAsDefect))
  }))
