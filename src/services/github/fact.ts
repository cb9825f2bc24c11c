/**
 * What one GitHub webhook says about pull requests (a PrFact), or why it says nothing Herald
 * reads (Ignored) or cannot be read (Invalid). Mapping is events.ts's; merging into the stored
 * observation is merge.ts's.
 */
import type { CheckObservation, CommentObservation, Mergeability, PrState, ReviewDecision } from "../../domain/Session.js"

/** How to find the PR(s) an event is about: by URL first, else by head branch in the repository. */
export interface PrMatch {
  /** The PRs' html_url (`https://github.com/o/r/pull/2`); empty when the event names no PR. */
  readonly urls: ReadonlyArray<string>
  readonly headBranch: string | null
  /** The repository's full_name (`owner/name`) the event was sent for. */
  readonly repository: string
}

/** What the event says, every part optional: absent means "this event does not say". */
export interface PrFact {
  readonly match: PrMatch
  readonly number?: number
  readonly state?: PrState
  readonly reviewDecision?: ReviewDecision
  readonly mergeability?: Mergeability
  /** The commit the PR's head is at, as far as this event knows; `checks` are at this commit. */
  readonly headSha?: string
  readonly headBranch?: string
  /** Upserted by name at headSha. */
  readonly checks?: ReadonlyArray<CheckObservation>
  /** New comments only (created, never edited or deleted ones). */
  readonly comments?: ReadonlyArray<CommentObservation>
}

export type GithubFact =
  | { readonly _tag: "Fact"; readonly fact: PrFact }
  | { readonly _tag: "Ignored"; readonly reason: string }
  /** A supported event whose body lacks what Herald reads: `path` is dotted, the value is never echoed. */
  | { readonly _tag: "Invalid"; readonly path: string; readonly message: string }

export const factOf = (fact: PrFact): GithubFact => ({ _tag: "Fact", fact })
export const ignored = (reason: string): GithubFact => ({ _tag: "Ignored", reason })
export const invalid = (path: string, message: string): GithubFact => ({ _tag: "Invalid", path, message })
