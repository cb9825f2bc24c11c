/**
 * The HTTP layer: the API, its docs, the dashboard and metrics on a Node server, on top of a
 * Herald runtime. Closing it drains HTTP first (503 to new requests, SSE streams ended,
 * in-flight requests given `shutdownGraceMs`), then the runtime stops as DESIGN.md orders.
 */
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Duration, Effect, Layer } from "effect"
import { createServer, type Server } from "node:http"
import { HeraldApi } from "../http/Api.js"
import { ApiToken } from "../http/ApiToken.js"
import { AuthorizationLive } from "../http/Authorization.js"
import { answerClientErrors } from "../http/ClientError.js"
import { DashboardLive } from "../http/Dashboard.js"
import { Draining } from "../http/Draining.js"
import { countRequests, EdgeLive } from "../http/Edge.js"
import { ConsumersLive } from "../http/handlers/Consumers.js"
import { IntegrationsLive, ProjectsLive, SessionsLive } from "../http/handlers/Sessions.js"
import { DeliveriesLive } from "../http/handlers/Deliveries.js"
import { EventsLive } from "../http/handlers/Events.js"
import { NotificationsLive } from "../http/handlers/Notifications.js"
import { HealthLive } from "../http/handlers/Health.js"
import { OpsLive } from "../http/handlers/Ops.js"
import { SettingsLive } from "../http/handlers/Settings.js"
import { SinksLive } from "../http/handlers/Sinks.js"
import { HttpOptions, type HttpOptionsShape } from "../http/HttpOptions.js"
import { Idempotency } from "../http/Idempotency.js"
import { JsonBodyLive } from "../http/JsonBody.js"
import { Metrics } from "../http/Metrics.js"
import { Sse } from "../http/Sse.js"
import { Herald, type HeraldConfig } from "./Herald.js"

class NodeServer extends Context.Tag("herald/http/NodeServer")<NodeServer, Server>() {}

const nodeServer = Layer.scopedContext(Effect.gen(function* () {
  const options = yield* HttpOptions
  const node = answerClientErrors(createServer())
  const server = yield* NodeHttpServer.make(() => node, { host: options.host, port: options.port })
  return Context.make(HttpServer.HttpServer, server).pipe(Context.add(NodeServer, node))
}))

/** Built after the server and the app, so its finalizer runs before theirs. */
const drainOnClose = Layer.scopedDiscard(Effect.gen(function* () {
  const options = yield* HttpOptions
  const node = yield* NodeServer
  const draining = yield* Draining
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      yield* draining.start
      node.close()
      node.closeIdleConnections()
      yield* draining.idle.pipe(Effect.timeoutOption(Duration.millis(options.shutdownGraceMs)))
      // One event-loop turn: bodies that just ended (SSE streams) write their last chunk first.
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      node.closeAllConnections()
    }))
}))

const handlers = Layer.mergeAll(NotificationsLive, DeliveriesLive, EventsLive, ConsumersLive, SettingsLive, SinksLive, ProjectsLive, SessionsLive, IntegrationsLive, OpsLive, HealthLive)

const app = HttpApiBuilder.serve(countRequests).pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(DashboardLive),
  Layer.provide(EdgeLive),
  Layer.provide(HttpApiBuilder.api(HeraldApi).pipe(Layer.provide(handlers), Layer.provide(AuthorizationLive), Layer.provide(JsonBodyLive)))
)

/** The HTTP edge over the Herald services already in context. Outputs the server (its address) and the token. */
export const HttpLive = drainOnClose.pipe(
  Layer.provide(app),
  Layer.provideMerge(nodeServer),
  Layer.provideMerge(NodeHttpServer.layerContext),
  Layer.provideMerge(Sse.Default),
  Layer.provideMerge(Layer.mergeAll(Metrics.Default, Idempotency.Default, Draining.Default, ApiToken.layer))
)

/** The daemon: a Herald runtime on `config.database` and its HTTP API, configured by `http` (e.g. HttpOptions.fromEnv()). */
export const daemonLayer = <E>(config: HeraldConfig, http: Layer.Layer<HttpOptions, E>) =>
  HttpLive.pipe(Layer.provideMerge(http), Layer.provideMerge(Herald.layer(config)))

export { HttpOptions, type HttpOptionsShape }
