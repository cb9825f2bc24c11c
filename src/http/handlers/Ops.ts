/** Handlers of operations: stats and Prometheus metrics. Liveness and readiness are Health's. */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { Herald } from "../../services/Herald.js"
import { HeraldApi } from "../Api.js"
import { Metrics } from "../Metrics.js"
import { storageAsDefect } from "./storage.js"

export const OpsLive = HttpApiBuilder.group(HeraldApi, "ops", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    const metrics = yield* Metrics
    return handlers
      .handle("stats", () => herald.stats().pipe(storageAsDefect))
      .handle("metrics", () =>
        Effect.map(metrics.render.pipe(storageAsDefect), (text) => HttpServerResponse.text(text, { contentType: metrics.contentType })))
  }))
