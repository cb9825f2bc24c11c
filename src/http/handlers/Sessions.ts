/** Handlers of projects and sessions: the Sessions service's commands, as the API declares them. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Sessions } from "../../services/Sessions.js"
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
