/**
 * What a PR object in a webhook body says of the PR itself: number, state (merged is a closed
 * PR with a merge), mergeability, head. Reviews, comments and checks are added by events.ts.
 */
import type { Mergeability, PrState } from "../../domain/Session.js"
import type { PrFact } from "./fact.js"
import type { PullRequest } from "./payloads.js"

const stateOf = (pr: PullRequest): PrState =>
  pr.state === "open" ? "open" : pr.merged === true || (pr.merged_at ?? null) !== null ? "merged" : "closed"

// `mergeable` is GitHub's answer once it has computed one (null while it computes);
// `mergeable_state` speaks only when `mergeable` is absent, "dirty" being a conflict.
const mergeabilityOf = (pr: PullRequest): Mergeability | undefined => {
  if (pr.mergeable !== undefined) return pr.mergeable === null ? "unknown" : pr.mergeable ? "mergeable" : "conflicting"
  if (pr.mergeable_state === undefined) return undefined
  return pr.mergeable_state === "dirty" ? "conflicting" : pr.mergeable_state === "unknown" ? "unknown" : "mergeable"
}

export const pullRequestFactOf = (pr: PullRequest, repository: string): PrFact => {
  const mergeability = mergeabilityOf(pr)
  return {
    match: { urls: [pr.html_url], headBranch: pr.head.ref, repository },
    number: pr.number,
    state: stateOf(pr),
    ...(mergeability === undefined ? {} : { mergeability }),
    headSha: pr.head.sha,
    headBranch: pr.head.ref
  }
}
