/**
 * RFC 9457 problem details: the one mapping from typed errors to an HTTP status and an
 * `application/problem+json` body (`type`, `title`, `status`, `detail`, `code`, the field
 * `path` and the error's own facts). Endpoints declare these schemas; the edge reuses `respond`.
 */
import { HttpApiSchema, HttpServerResponse } from "@effect/platform"
import { ParseResult, Schema } from "effect"
import {
  ConsumerNotFound,
  DeliveryNotFound,
  IllegalTransition,
  InvalidInput,
  NotificationNotFound,
  Overloaded,
  OffsetBehind,
  SessionTransitionRefused,
  SinkNotFound,
  StaleWrite
} from "../domain/errors.js"
import { GithubIntakeNotConfigured, GithubSignatureInvalid } from "../domain/githubErrors.js"
import { ProjectArchived, ProjectExists, ProjectNotFound, PullRequestOwned, SessionNotFound } from "../domain/sessionErrors.js"
import { IdempotencyConflict, NotReady, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from "./errors.js"

export const problemContentType = "application/problem+json"

export const ProblemBody = Schema.Struct(
  {
    type: Schema.String,
    title: Schema.String,
    status: Schema.Number,
    detail: Schema.String,
    code: Schema.String,
    path: Schema.optional(Schema.String),
    issues: Schema.optional(Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String })))
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
).annotations({ identifier: "Problem", description: "RFC 9457 problem details" })
export type ProblemBody = typeof ProblemBody.Type

const kebab = (code: string) => code.replace(/([a-z])([A-Z])/g, "$1-$2").replace(/_/g, "-").toLowerCase()

/** A problem body; `extra` carries the error's facts (ids, state, issues). */
export const problemBody = (status: number, title: string, code: string, detail: string, extra: Record<string, unknown> = {}): ProblemBody => {
  const issues = extra["issues"] as ReadonlyArray<{ path: string }> | undefined
  return {
    type: `urn:herald:problem:${kebab(code)}`,
    title,
    status,
    detail,
    code,
    ...(issues !== undefined && issues.length > 0 ? { path: issues[0]!.path } : {}),
    ...extra
  }
}

export const respond = (body: ProblemBody, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status: body.status, contentType: problemContentType, headers })

/** The error schema `error`, sent as a problem with `status`; decodes back to the error (for clients). */
const asProblem = <A extends { readonly _tag: string; readonly message: string }, I extends { readonly _tag: string }>(
  error: Schema.Schema<A, I>,
  status: number,
  title: string,
  code: string
) => {
  const encodeFacts = Schema.encodeSync(error)
  return Schema.transformOrFail(ProblemBody, Schema.typeSchema(error), {
    strict: false,
    decode: (p) => ParseResult.decodeUnknown(error)({ ...p, _tag: p.code }),
    encode: (e) => {
      const { _tag, ...facts } = encodeFacts(e)
      return ParseResult.succeed(problemBody(status, title, _tag, e.message, facts))
    }
  }).annotations({
    ...HttpApiSchema.annotations({ status }),
    [HttpApiSchema.AnnotationEncoding]: { kind: "Json", contentType: problemContentType },
    identifier: `${code}Problem`
  })
}

export const InvalidInputProblem = asProblem(InvalidInput, 400, "Invalid input", "InvalidInput")
export const UnauthorizedProblem = asProblem(Unauthorized, 401, "Unauthorized", "Unauthorized")
export const NotificationNotFoundProblem = asProblem(NotificationNotFound, 404, "Notification not found", "NotificationNotFound")
export const SinkNotFoundProblem = asProblem(SinkNotFound, 404, "Sink not found", "SinkNotFound")
export const DeliveryNotFoundProblem = asProblem(DeliveryNotFound, 404, "Delivery not found", "DeliveryNotFound")
export const IllegalTransitionProblem = asProblem(IllegalTransition, 409, "Not allowed in the delivery's state", "IllegalTransition")
export const StaleWriteProblem = asProblem(StaleWrite, 409, "Lease lost or row changed", "StaleWrite")
export const IdempotencyConflictProblem = asProblem(IdempotencyConflict, 409, "Idempotency-Key reused with another body", "IdempotencyConflict")
export const PayloadTooLargeProblem = asProblem(PayloadTooLarge, 413, "Payload too large", "PayloadTooLarge")
export const UnsupportedMediaTypeProblem = asProblem(UnsupportedMediaType, 415, "Unsupported media type", "UnsupportedMediaType")
export const NotReadyProblem = asProblem(NotReady, 503, "Not ready", "NotReady")
export const OverloadedProblem = asProblem(Overloaded, 503, "Overloaded", "Overloaded")
export const ConsumerNotFoundProblem = asProblem(ConsumerNotFound, 404, "Consumer not found", "ConsumerNotFound")
export const OffsetBehindProblem = asProblem(OffsetBehind, 409, "A commit only moves forward", "OffsetBehind")

export const ProjectNotFoundProblem = asProblem(ProjectNotFound, 404, "Project not found", "ProjectNotFound")
export const ProjectExistsProblem = asProblem(ProjectExists, 409, "Project exists", "ProjectExists")
export const ProjectArchivedProblem = asProblem(ProjectArchived, 409, "Project archived", "ProjectArchived")
export const SessionNotFoundProblem = asProblem(SessionNotFound, 404, "Session not found", "SessionNotFound")
export const PullRequestOwnedProblem = asProblem(PullRequestOwned, 409, "Pull request owned by another session", "PullRequestOwned")
export const SessionTransitionRefusedProblem = asProblem(SessionTransitionRefused, 409, "Not allowed in the session's state", "SessionTransitionRefused")

export const GithubSignatureInvalidProblem = asProblem(GithubSignatureInvalid, 401, "Signature invalid", "GithubSignatureInvalid")
export const GithubIntakeNotConfiguredProblem = asProblem(GithubIntakeNotConfigured, 404, "GitHub intake not configured", "GithubIntakeNotConfigured")

/** Tags the endpoint schemas encode; any other failure reaching the edge is a 500. */
export const declaredTags: ReadonlySet<string> = new Set([
  "InvalidInput", "Unauthorized", "NotificationNotFound", "DeliveryNotFound", "IllegalTransition",
  "StaleWrite", "IdempotencyConflict", "PayloadTooLarge", "NotReady", "SinkNotFound", "Overloaded", "UnsupportedMediaType",
  "ConsumerNotFound", "OffsetBehind", "ProjectNotFound", "ProjectExists", "ProjectArchived", "SessionNotFound",
  "PullRequestOwned", "SessionTransitionRefused", "GithubSignatureInvalid", "GithubIntakeNotConfigured"
])
