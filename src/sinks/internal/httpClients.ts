/**
 * The HTTP clients of the webhook and Slack sinks: keep-alive agents, one that reaches only public
 * addresses (the default) and one that reaches any (a sink with `allowPrivateNetwork`).
 * Redirects are not followed: a sink must name its final URL (and a redirect could lead a
 * public URL to a private address).
 */
import { HttpClient } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect } from "effect"
import { publicOnlyLookup } from "./privateNetwork.js"

export interface HttpClients {
  readonly publicOnly: HttpClient.HttpClient
  readonly any: HttpClient.HttpClient
}

const clientWith = (options: Parameters<typeof NodeHttpClient.makeAgent>[0]) =>
  Effect.flatMap(NodeHttpClient.makeAgent({ keepAlive: true, ...options }), (agent) =>
    Effect.provideService(NodeHttpClient.make, NodeHttpClient.HttpAgent, agent))

export const makeHttpClients = Effect.gen(function* () {
  return {
    publicOnly: yield* clientWith({ lookup: publicOnlyLookup as never }),
    any: yield* clientWith({})
  } satisfies HttpClients
})
