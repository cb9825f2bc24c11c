/**
 * The sessions part of the HTTP API: projects, sessions and their observations (PR facts with
 * checks and comments, liveness, activity, termination). Declared beside Api.ts's groups and
 * added to HeraldApi there; handlers in handlers/Sessions.ts.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { ActivityObservation, LivenessObservation, PrObservation, ProjectInput, SessionInput, TerminateInput } from "../domain/Session.js"
import { ProjectView, SessionDetail, SessionView } from "../services/sessions/views.js"
import { Authorization } from "./Authorization.js"
import { JsonBody } from "./JsonBody.js"
import {
  GithubIntakeNotConfiguredProblem, GithubSignatureInvalidProblem, InvalidInputProblem, ProjectArchivedProblem, ProjectExistsProblem, ProjectNotFoundProblem, PullRequestOwnedProblem,
  SessionNotFoundProblem, SessionTransitionRefusedProblem
} from "./Problem.js"

const strict = { parseOptions: { onExcessProperty: "error" } } as const
const created = <A, I>(schema: Schema.Schema<A, I>) => schema.annotations(HttpApiSchema.annotations({ status: 201 }))
const projectPath = Schema.Struct({ id: Schema.String })
const sessionPath = Schema.Struct({ id: Schema.String })

/** An observation of a session: the same answer and errors whatever was observed. */
const observation = <Name extends string, A, I>(name: Name, path: `/${string}`, payload: Schema.Schema<A, I>, description: string) =>
  HttpApiEndpoint.post(name, path)
    .setPath(sessionPath)
    .setPayload(payload.annotations(strict))
    .addSuccess(SessionDetail)
    .addError(InvalidInputProblem)
    .addError(SessionNotFoundProblem)
    .addError(SessionTransitionRefusedProblem)
    .annotate(OpenApi.Description, description)

export class ProjectsGroup extends HttpApiGroup.make("projects")
  .add(
    HttpApiEndpoint.post("createProject", "/projects")
      .setPayload(ProjectInput.annotations(strict))
      .addSuccess(created(ProjectView))
      .addError(InvalidInputProblem)
      .addError(ProjectExistsProblem)
  )
  .add(
    HttpApiEndpoint.get("listProjects", "/projects")
      .setUrlParams(Schema.Struct({ archived: Schema.optional(Schema.Literal("true", "false")) }))
      .addSuccess(Schema.Struct({ items: Schema.Array(ProjectView) }))
      .addError(InvalidInputProblem)
      .annotate(OpenApi.Description, "Active projects; `?archived=true` lists archived ones too")
  )
  .add(HttpApiEndpoint.get("getProject", "/projects/:id").setPath(projectPath).addSuccess(ProjectView).addError(ProjectNotFoundProblem))
  .add(
    HttpApiEndpoint.del("archiveProject", "/projects/:id")
      .setPath(projectPath)
      .addSuccess(ProjectView)
      .addError(ProjectNotFoundProblem)
      .annotate(OpenApi.Description, "Archives the project (a soft delete): it is listed no more and takes no new session; its sessions stay readable")
  )
  .prefix("/v1")
  .middleware(JsonBody)
  .middleware(Authorization)
  .annotate(OpenApi.Description, "Projects: where coding-agent sessions belong (session ids are `{projectId}-{n}`)") {}

export class SessionsGroup extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.post("createSession", "/sessions")
      .setPayload(SessionInput.annotations(strict))
      .addSuccess(created(SessionView))
      .addError(InvalidInputProblem)
      .addError(ProjectNotFoundProblem)
      .addError(ProjectArchivedProblem)
  )
  .add(
    HttpApiEndpoint.get("listSessions", "/sessions")
      .setUrlParams(Schema.Struct({
        project: Schema.optional(Schema.String),
        state: Schema.optional(Schema.String),
        alive: Schema.optional(Schema.Literal("true", "false")),
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1_000)))
      }))
      .addSuccess(Schema.Struct({ items: Schema.Array(SessionView) }))
      .addError(InvalidInputProblem)
      .annotate(OpenApi.Description, "Sessions, newest first, by project, state and liveness")
  )
  .add(HttpApiEndpoint.get("getSession", "/sessions/:id").setPath(sessionPath).addSuccess(SessionDetail).addError(SessionNotFoundProblem))
  .add(
    observation("observePr", "/sessions/:id/observations/pr", PrObservation,
      "What is seen of one of the session's pull requests (a poll): its state, review, mergeability, the checks at its head commit and its review comments. One transaction; a PR belongs to one session")
      .addError(PullRequestOwnedProblem)
  )
  .add(observation("observeLiveness", "/sessions/:id/observations/liveness", LivenessObservation,
    "Whether the agent's runtime is alive; not alive ends the session (died)"))
  .add(observation("observeActivity", "/sessions/:id/observations/activity", ActivityObservation,
    "Something the agent did: moves a spawning session to working, a failed one to fixing"))
  .add(observation("terminate", "/sessions/:id/terminate", TerminateInput, "Ends the session (killed); the agent is told to stop"))
  .prefix("/v1")
  .middleware(JsonBody)
  .middleware(Authorization)
  .annotate(OpenApi.Description, "Coding-agent sessions: their pull requests, CI and reviews, and the reactions they trigger") {}

/** GitHub's own webhook deliveries: authenticated by their signature (X-Hub-Signature-256), not a token. */
export class IntegrationsGroup extends HttpApiGroup.make("integrations")
  .add(
    HttpApiEndpoint.post("github", "/integrations/github")
      .setHeaders(Schema.Struct({
        "x-github-event": Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100)),
        "x-github-delivery": Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
        "x-hub-signature-256": Schema.optional(Schema.String)
      }))
      .addSuccess(Schema.Struct({
        outcome: Schema.Literal("applied", "ignored", "duplicate"),
        sessionId: Schema.NullOr(Schema.String),
        reason: Schema.NullOr(Schema.String)
      }).annotations(HttpApiSchema.annotations({ status: 202 })))
      .addError(InvalidInputProblem)
      .addError(GithubSignatureInvalidProblem)
      .addError(GithubIntakeNotConfiguredProblem)
      .annotate(OpenApi.Description,
        "A repository webhook (pull_request, pull_request_review, pull_request_review_comment, issue_comment, check_run, check_suite, workflow_run), signed with integrations.github.secret. Applied to the session that owns the PR (by URL, or by head branch); an event no session owns is 202 and recorded as ignored; a redelivery (same X-GitHub-Delivery) changes nothing")
  )
  .prefix("/v1")
  .middleware(JsonBody)
  .annotate(OpenApi.Description, "Integrations that call Herald with their own authentication") {}
