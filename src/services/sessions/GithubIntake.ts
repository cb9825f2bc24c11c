/**
 * GitHub's webhook deliveries taken in: signature checked, deduped on X-GitHub-Delivery, read as
 * a PR fact, applied to the session that owns the PR, and recorded (applied or ignored, with the
 * reason) in one transaction. The HTTP endpoint is src/http's; the reading is src/services/github's.
 */
import { Clock, Effect } from "effect"
import { InvalidInput } from "../../domain/errors.js"
import { GithubIntakeNotConfigured, GithubSignatureInvalid } from "../../domain/githubErrors.js"
import type { PrObservation } from "../../domain/Session.js"
import { githubFactOf } from "../github/events.js"
import type { PrFact } from "../github/fact.js"
import { mergeFact } from "../github/merge.js"
import { verifyGithubSignature } from "../github/signature.js"
import { type CheckRow, type PullRequestRow, SessionStore } from "../../store/SessionStore.js"
import { SettingsStore } from "../../store/SettingsStore.js"
import { Writer } from "../../store/Writer.js"
import { Sessions } from "../Sessions.js"

/** One delivery as the endpoint received it: the headers Herald reads and the body's bytes as text. */
export interface GithubDelivery {
  /** X-GitHub-Event. */
  readonly event: string
  /** X-GitHub-Delivery: the same for a redelivery. */
  readonly deliveryId: string
  /** X-Hub-Signature-256. */
  readonly signature: string | undefined
  /** The body exactly as received: the signature is over these bytes, not over re-encoded JSON. */
  readonly rawBody: string
}

export interface GithubIntakeOutcome {
  /** `duplicate`: this delivery id was taken in before, and nothing changed now. */
  readonly outcome: "applied" | "ignored" | "duplicate"
  readonly sessionId: string | null
  readonly reason: string | null
}

/** What came of a delivery, before it is recorded. */
interface Decision {
  readonly outcome: "applied" | "ignored"
  readonly sessionId: string | null
  readonly projectId: string | null
  readonly reason: string | null
}

const ignoredBecause = (reason: string, owner?: { readonly sessionId: string; readonly projectId: string }): Decision =>
  ({ outcome: "ignored", sessionId: owner?.sessionId ?? null, projectId: owner?.projectId ?? null, reason })

/** The PR as last stored, as the observation mergeFact merges into: the checks at its head, no comments. */
const storedObservation = (pr: PullRequestRow, checks: ReadonlyArray<CheckRow>): PrObservation => ({
  url: pr.url,
  number: pr.number,
  state: pr.state,
  ...(pr.reviewDecision === null ? {} : { reviewDecision: pr.reviewDecision }),
  ...(pr.mergeability === null ? {} : { mergeability: pr.mergeability }),
  headSha: pr.headSha,
  ...(pr.headBranch === null ? {} : { headBranch: pr.headBranch }),
  checks: checks.filter((c) => c.headSha === pr.headSha).map((c) => ({
    name: c.name,
    status: c.status,
    ...(c.conclusion === null ? {} : { conclusion: c.conclusion }),
    ...(c.detailsUrl === null ? {} : { detailsUrl: c.detailsUrl }),
    ...(c.failedStep === null ? {} : { failedStep: c.failedStep }),
    ...(c.logExcerpt === null ? {} : { logExcerpt: c.logExcerpt })
  })),
  comments: []
})

/** `owner/name` in a clone URL (https or ssh, with or without .git), lower-cased, or undefined. */
const repositoryOf = (originUrl: string): string | undefined => {
  const m = /[/:]([^/:]+\/[^/]+?)(?:\.git)?\/?$/.exec(originUrl)
  return m === null ? undefined : m[1]!.toLowerCase()
}

/** A private failure that rolls the transaction back: another transaction recorded the id first. */
class RecordedMeanwhile {
  readonly _tag = "RecordedMeanwhile"
}

export class GithubIntake extends Effect.Service<GithubIntake>()("herald/GithubIntake", {
  effect: Effect.gen(function* () {
    const sessions = yield* Sessions
    const store = yield* SessionStore
    const settings = yield* SettingsStore
    const writer = yield* Writer

    /** A live session on `branch` of a project that is the event's repository (or names none), newest first. */
    const sessionOnBranch = (branch: string, repository: string) =>
      Effect.gen(function* () {
        for (const s of yield* store.sessionsOnBranch(branch)) {
          if (s.endedAt !== null) continue
          const origin = (yield* store.project(s.projectId))?.originUrl ?? null
          // A branch name is not unique across repositories: a project that says its origin must match.
          const repo = origin === null ? undefined : repositoryOf(origin)
          if (repo === undefined || repo === repository.toLowerCase()) return s
        }
        return undefined
      })

    /** The PR the fact is about and who owns it: a stored PR by URL, else a live session on the head branch. */
    const ownerOf = (fact: PrFact) =>
      Effect.gen(function* () {
        for (const url of fact.match.urls) {
          const pr = yield* store.pullRequestInTx(url)
          if (pr !== undefined) return { url, pr, sessionId: pr.sessionId, projectId: pr.projectId } as const
        }
        const branch = fact.match.headBranch
        if (branch === null) return undefined
        const session = yield* sessionOnBranch(branch, fact.match.repository)
        if (session === undefined) return undefined
        const url = fact.match.urls[0]
        if (url !== undefined) return { url, pr: undefined, sessionId: session.id, projectId: session.projectId } as const
        // A check that names only its branch is for the session's one open PR of that branch, if it has one.
        const open = (yield* store.pullRequestsOf(session.id)).filter((p) => p.state === "open" && p.headBranch === branch)
        return open.length === 1 ? { url: open[0]!.url, pr: open[0]!, sessionId: session.id, projectId: session.projectId } as const : undefined
      })

    /** Inside the delivery's transaction: the fact applied to its session's PR, or why not. */
    const applyFact = (fact: PrFact) =>
      Effect.gen(function* () {
        const owner = yield* ownerOf(fact)
        if (owner === undefined) {
          const names = fact.match.urls.length > 0 ? fact.match.urls.join(", ") : `branch ${fact.match.headBranch ?? "(none)"}`
          return ignoredBecause(`no session owns ${names} in ${fact.match.repository}: no stored pull request and no live session on its head branch`)
        }
        const stored = owner.pr === undefined ? undefined : storedObservation(owner.pr, yield* store.checksOfInTx(owner.url))
        const merged = mergeFact(stored, fact, owner.url)
        if ("_tag" in merged) return ignoredBecause(`missing ${merged.missing.join(", ")}: the pull request was never seen and the event does not say`, owner)
        // A savepoint: a refused observation leaves nothing of itself, and the delivery is still recorded.
        return yield* sessions.observePr(owner.sessionId, merged).pipe(
          Effect.as<Decision>({ outcome: "applied", sessionId: owner.sessionId, projectId: owner.projectId, reason: null }),
          // GitHub retries a delivery that fails: one that can never apply is taken and said why.
          Effect.catchTags({
            SessionTransitionRefused: (e) => Effect.succeed(ignoredBecause(e.message, owner)),
            SessionNotFound: (e) => Effect.succeed(ignoredBecause(e.message, owner)),
            PullRequestOwned: (e) => Effect.succeed(ignoredBecause(e.message, owner))
          }))
      })

    const receive = Effect.fn("GithubIntake.receive")(function* (delivery: GithubDelivery) {
      const secret = (yield* settings.get).integrations.github?.secret
      if (secret === undefined) return yield* new GithubIntakeNotConfigured()
      const valid = yield* Effect.promise(() => verifyGithubSignature(secret, delivery.rawBody, delivery.signature))
      if (!valid) return yield* new GithubSignatureInvalid({ deliveryId: delivery.deliveryId, signatureSent: delivery.signature !== undefined })
      let payload: unknown
      try {
        payload = JSON.parse(delivery.rawBody)
      } catch {
        return yield* new InvalidInput({ what: `GitHub ${delivery.event} delivery`, issues: [{ path: "", message: "Expected a JSON body (is the webhook's content type application/json?)" }] })
      }
      const read = githubFactOf(delivery.event, payload)
      if (read._tag === "Invalid") {
        return yield* new InvalidInput({ what: `GitHub ${delivery.event} delivery`, issues: [{ path: read.path, message: read.message }] })
      }
      const action = typeof payload === "object" && payload !== null && typeof (payload as { action?: unknown }).action === "string"
        ? (payload as { action: string }).action.slice(0, 100)
        : null
      const receivedAt = yield* Clock.currentTimeMillis
      const taken = writer.transaction(Effect.gen(function* () {
        if (yield* store.githubDeliverySeenInTx(delivery.deliveryId)) return undefined
        const decision = read._tag === "Ignored" ? ignoredBecause(read.reason) : yield* applyFact(read.fact)
        const recorded = yield* store.recordGithubDeliveryInTx({
          deliveryId: delivery.deliveryId, event: delivery.event.slice(0, 100), action, outcome: decision.outcome,
          reason: decision.reason, sessionId: decision.sessionId, projectId: decision.projectId, receivedAt
        })
        // Recorded by a concurrent transaction (PostgreSQL) since the check: undo this one's work.
        if (!recorded) return yield* Effect.fail(new RecordedMeanwhile())
        return decision
      }))
      const decision = yield* taken.pipe(Effect.catchIf((e): e is RecordedMeanwhile => e instanceof RecordedMeanwhile, () => Effect.succeed(undefined)))
      return decision === undefined
        ? { outcome: "duplicate", sessionId: null, reason: null } satisfies GithubIntakeOutcome
        : { outcome: decision.outcome, sessionId: decision.sessionId, reason: decision.reason } satisfies GithubIntakeOutcome
    })

    return { receive } as const
  })
}) {}
