/**
 * The HTTP baseline measured in the same run: the framework alone. A no-op HttpApi
 * endpoint (the same payload schema as POST /v1/notifications, answering at once, no
 * auth, no storage) on @effect/platform-node, under the same load. Herald's figure is
 * printed as a ratio to it: what Herald's own work costs on top of the stack it is built on.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { createServer } from "node:http"
import { NotificationInput } from "../src/domain/Notification.js"

const Api = HttpApi.make("baseline").add(
  HttpApiGroup.make("noop").add(
    HttpApiEndpoint.post("create", "/v1/notifications").setPayload(NotificationInput).addSuccess(Schema.Struct({ ok: Schema.Boolean }))
  )
)

const NoopLive = HttpApiBuilder.group(Api, "noop", (handlers) => handlers.handle("create", () => Effect.succeed({ ok: true })))

/** Starts the no-op server on an ephemeral port; returns its base URL and how to stop it. */
export const startNoopServer = async () => {
  const runtime = ManagedRuntime.make(
    HttpApiBuilder.serve().pipe(
      Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(NoopLive))),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
    )
  )
  const address = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (s) => s.address))
  const url = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
  return { url, stop: () => runtime.dispose() }
}
