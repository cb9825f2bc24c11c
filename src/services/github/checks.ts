/**
 * A GitHub check run, check suite or workflow run as a CheckObservation: GitHub's statuses and
 * conclusions in the domain's words, the output as the log excerpt. Which PRs it is for is
 * checkFact.ts's.
 */
import { Either, Schema } from "effect"
import type { Issue } from "../../domain/issues.js"
import { CheckObservation, type CheckConclusion, type CheckStatus } from "../../domain/Session.js"
import { NonEmptyText } from "../../domain/Text.js"
import { storableText } from "./text.js"

/** What the three kinds of check share, as GitHub sends it. */
export interface GithubCheck {
  readonly name: string
  readonly status: string | null
  readonly conclusion: string | null | undefined
  readonly detailsUrl: string | null | undefined
  readonly summary?: string | null | undefined
  readonly text?: string | null | undefined
}

/** Where in the body each part came from, so an Invalid names the field GitHub sent. */
export interface CheckPaths {
  readonly name: string
  readonly status: string
  readonly conclusion: string
}

// "waiting", "requested" and "pending" are Actions' states before a runner takes the job.
const statuses: Record<string, CheckStatus> = {
  queued: "queued", waiting: "queued", requested: "queued", pending: "queued",
  in_progress: "in_progress", completed: "completed"
}

// "stale": GitHub gave up on a run incomplete for 14 days; "startup_failure": the workflow
// file could not start. Both are a check that did not pass.
const conclusions: Record<string, CheckConclusion> = {
  success: "success", failure: "failure", cancelled: "cancelled", skipped: "skipped",
  timed_out: "timed_out", neutral: "neutral", action_required: "action_required",
  stale: "timed_out", startup_failure: "failure"
}

const maxExcerpt = 16_384
const decodeCheck = Schema.decodeUnknownEither(CheckObservation)
const validUrl = Schema.is(NonEmptyText(2_048))

const excerptOf = (summary: string | null | undefined, text: string | null | undefined) => {
  const parts = [summary, text].filter((p): p is string => typeof p === "string" && p.trim() !== "")
  return parts.length === 0 ? undefined : storableText(parts.join("\n\n"), maxExcerpt)
}

export const checkObservationOf = (check: GithubCheck, paths: CheckPaths): Either.Either<CheckObservation, Issue> => {
  const status = Object.hasOwn(statuses, check.status ?? "") ? statuses[check.status!] : undefined
  if (status === undefined) {
    return Either.left({ path: paths.status, message: "Expected a check status (queued, in_progress, completed)" })
  }
  let conclusion: CheckConclusion | undefined
  if (status === "completed") {
    conclusion = Object.hasOwn(conclusions, check.conclusion ?? "") ? conclusions[check.conclusion!] : undefined
    if (conclusion === undefined) {
      return Either.left({ path: paths.conclusion, message: "Expected the conclusion of a completed check" })
    }
  }
  const logExcerpt = excerptOf(check.summary, check.text)
  const observation = {
    name: check.name,
    status,
    ...(conclusion === undefined ? {} : { conclusion }),
    // A link too long to keep is dropped, not worth losing the check over.
    ...(validUrl(check.detailsUrl) ? { detailsUrl: check.detailsUrl } : {}),
    ...(logExcerpt === undefined ? {} : { logExcerpt })
  }
  return decodeCheck(observation).pipe(Either.mapLeft(() => ({
    path: paths.name,
    message: "Expected a check name of 1 to 500 characters without NUL or lone surrogates"
  })))
}
