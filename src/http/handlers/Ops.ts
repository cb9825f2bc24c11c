/** Handlers of operations: stats, Prometheus metrics, readiness (writable, migrations current, not draining) and liveness. */
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Herald } from "../../layers/Herald.js"
import { databaseVersion, readMigrations } from "../../layers/Migrations.js"
import { Writer } from "../../services/Writer.js"
import { HeraldApi } from "../Api.js"
import { Draining } from "../Draining.js"
import { NotReady } from "../errors.js"
import { Metrics } from "../Metrics.js"
import { storageAsDefect } from "./storage.js"

export const OpsLive = HttpApiBuilder.group(HeraldApi, "ops", (handlers) =>
  Effect.gen(function* () {
    const herald = yield* Herald
    const metrics = yield* Metrics
    const draining = yield* Draining
    const writer = yield* Writer
    const sql = yield* SqlClient.SqlClient
    const buildVersion = readMigrations().reduce((max, f) => Math.max(max, f.id), 0)
    const notReady = (reason: string) =>
      HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", "5"))).pipe(
        Effect.zipRight(new NotReady({ reason, retryAfterSeconds: 5 }))
      )

    const readyz = Effect.gen(function* () {
      if (yield* draining.isDraining) return yield* notReady("shutting down")
      // BEGIN IMMEDIATE takes the write lock: proof the database is writable right now.
      const version = yield* writer.transaction(databaseVersion).pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.catchAll((e) => notReady(`the database is not writable: ${e.message}`))
      )
      if (version !== buildVersion) return yield* notReady(`the database is at migration ${version}, this build expects ${buildVersion}`)
      return { status: "ready" as const, migration: version }
    })

    return handlers
      .handle("stats", () => herald.stats().pipe(storageAsDefect))
      .handle("metrics", () =>
        Effect.map(metrics.render.pipe(storageAsDefect), (text) => HttpServerResponse.text(text, { contentType: metrics.contentType })))
      .handle("readyz", () => readyz)
  }))

export const HealthLive = HttpApiBuilder.group(HeraldApi, "health", (handlers) =>
  Effect.succeed(handlers.handle("healthz", () => Effect.succeed({ status: "ok" as const }))))
