/** Handlers of projects, sessions and the GitHub intake: the sessions services' commands, as the API declares them. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Sessions } from "../../services/Sessions.js"
import { GithubIntake } from "../../services/sessions/GithubIntake.js"
import { HeraldApi } from "../Api.js"
import { storageAsDefect } from "./storage.js"

export const ProjectsLive = HttpApiBuilder.group(HeraldApi, "projects", (handlers) =>
  Effect.gen(function* () {
    const sessions = yield* Sessions
    return handlers
      .handle("createProject", ({ payload }) => sessions.createProject(payload).pipe(storageAsDefect))
      .handle("listProjects", ({ urlParams }) =>
        Effect.map(sessions.projects({ archived: urlParams.archived === "true" }).pipe(storageAsDefect), (items) => ({ items })))
      .handle("getProject", ({ path }) => sessions.project(path.id).pipe(storageAsDefect))
      .handle("archiveProject", ({ path }) => sessions.archiveProject(path.id).pipe(storageAsDefect))
  }))

export const SessionsLive = HttpApiBuilder.group(HeraldApi, "sessions", (handlers) =>
  Effect.gen(function* () {
    const sessions = yield* Sessions
    return handlers
      .handle("createSession", ({ payload }) => sessions.createSession(payload).pipe(storageAsDefect))
      .handle("listSessions", ({ urlParams }) =>
        Effect.map(sessions.list({
          ...(urlParams.project !== undefined ? { projectId: urlParams.project } : {}),
          ...(urlParams.state !== undefined ? { state: urlParams.state } : {}),
          ...(urlParams.alive !== undefined ? { alive: urlParams.alive === "true" } : {}),
          ...(urlParams.limit !== undefined ? { limit: urlParams.limit } : {})
        }).pipe(storageAsDefect), (items) => ({ items })))
      .handle("getSession", ({ path }) => sessions.get(path.id).pipe(storageAsDefect))
      .handle("observePr", ({ path, payload }) => sessions.observePr(path.id, payload).pipe(storageAsDefect))
      .handle("observeLiveness", ({ path, payload }) => sessions.observeLiveness(path.id, payload).pipe(storageAsDefect))
      .handle("observeActivity", ({ path, payload }) => sessions.observeActivity(path.id, payload).pipe(storageAsDefect))
      .handle("terminate", ({ path, payload }) => sessions.terminate(path.id, payload).pipe(storageAsDefect))
  }))

export const IntegrationsLive = HttpApiBuilder.group(HeraldApi, "integrations", (handlers) =>
  Effect.gen(function* () {
    const intake = yield* GithubIntake
    return handlers.handle("github", ({ headers, request }) =>
      Effect.gen(function* () {
        // The signature is over the bytes GitHub sent: the raw text, not a re-encoding.
        const rawBody = yield* Effect.orDie(request.text)
        return yield* intake.receive({
          event: headers["x-github-event"], deliveryId: headers["x-github-delivery"],
          signature: headers["x-hub-signature-256"], rawBody
        })
      }).pipe(storageAsDefect))
  }))
