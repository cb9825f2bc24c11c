/**
 * Handlers of liveness and readiness. Neither needs the token: they hold no data. Ready means
 * not draining, the database writable and with room to grow, migrations current.
 */
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect, Either, Option } from "effect"
import { databaseVersion, readMigrations } from "../../layers/Migrations.js"
import { DatabaseOptionsTag } from "../../layers/Sqlite.js"
import { diskFull, pageLimit } from "../../services/StorageRoom.js"
import { Writer } from "../../services/Writer.js"
import { HeraldApi } from "../Api.js"
import { Draining } from "../Draining.js"
import { NotReady } from "../errors.js"

export const HealthLive = HttpApiBuilder.group(HeraldApi, "health", (handlers) =>
  Effect.gen(function* () {
    const draining = yield* Draining
    const writer = yield* Writer
    const sql = yield* SqlClient.SqlClient
    const { filename } = yield* DatabaseOptionsTag
    const buildVersion = readMigrations().reduce((max, f) => Math.max(max, f.id), 0)
    const notReady = (reason: string) =>
      HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", "5"))).pipe(
        Effect.zipRight(new NotReady({ reason, retryAfterSeconds: 5 }))
      )

    // BEGIN IMMEDIATE takes the write lock: proof the database is writable right now.
    const probe = writer.transaction(Effect.all({ version: databaseVersion, pages: pageLimit })).pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      Effect.either
    )

    const readyz = Effect.gen(function* () {
      if (yield* draining.isDraining) return yield* notReady("shutting down")
      const outcome = yield* probe
      if (Either.isLeft(outcome)) {
        return yield* notReady(`the database is not writable: ${outcome.left.message}`)
      }
      const { version, pages } = outcome.right
      // The disk is asked outside the transaction: no write lock is held across I/O.
      const full = Option.isSome(pages.full) ? pages.full : yield* diskFull(filename, pages.pageSize)
      if (Option.isSome(full)) return yield* notReady(`storage full: ${full.value}; free disk space`)
      if (version !== buildVersion) return yield* notReady(`the database is at migration ${version}, this build expects ${buildVersion}`)
      return { status: "ready" as const, migration: version }
    })

    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () => readyz)
  }))
