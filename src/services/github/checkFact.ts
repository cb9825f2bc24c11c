/**
 * Which PRs a check is for and the PrFact it makes: the PRs GitHub lists with it (whose head
 * is still the check's commit), else the PRs of its head branch. The check itself is checks.ts's.
 */
import type { CheckObservation } from "../../domain/Session.js"
import { factOf, type GithubFact, ignored } from "./fact.js"
import type { PullRequestRef } from "./payloads.js"

interface Repository { readonly id: number; readonly full_name: string; readonly html_url: string }

// https://api.github.com/repos/o/r/pulls/2, or https://ghe.example/api/v3/repos/o/r/pulls/2 on
// GitHub Enterprise Server: the PR page is the same path without the API's prefix.
const apiPullUrl = /^(https?:\/\/)(?:api\.([^/]+)|([^/]+)\/api\/v3)\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)$/

/** The PR's html_url: the lists carry only its API url. */
export const pullRequestUrlOf = (ref: PullRequestRef, repository: Repository): string | undefined => {
  const m = apiPullUrl.exec(ref.url)
  if (m !== null) return `${m[1]}${m[2] ?? m[3]}/${m[4]}/${m[5]}/pull/${m[6]}`
  // A PR of the repository the event was sent for lives under that repository's page.
  return ref.base.repo.id === repository.id ? `${repository.html_url}/pull/${ref.number}` : undefined
}

export interface CheckAt {
  readonly check: CheckObservation
  readonly headSha: string
  readonly headBranch: string | null
  readonly pullRequests: ReadonlyArray<PullRequestRef>
  readonly repository: Repository
}

export const checkFactOf = ({ check, headSha, headBranch, pullRequests, repository }: CheckAt): GithubFact => {
  // A check of a commit a PR has moved past (a run cancelled by the next push reports after
  // that push) must not pull the PR's head back to the old commit.
  const current = pullRequests.filter((pr) => pr.head.sha === headSha)
  if (pullRequests.length > 0 && current.length === 0) {
    return ignored(`check "${check.name}" is for commit ${headSha}, no longer the head of ${pullRequests.map((pr) => `#${pr.number}`).join(", ")}`)
  }
  const urls = current.flatMap((pr) => pullRequestUrlOf(pr, repository) ?? [])
  const branch = headBranch === null || headBranch === "" ? null : headBranch
  if (urls.length === 0 && branch === null) {
    return ignored(`check "${check.name}" names no pull request and no head branch`)
  }
  return factOf({
    match: { urls, headBranch: branch, repository: repository.full_name },
    ...(current.length === 1 ? { number: current[0]!.number } : {}),
    headSha,
    ...(branch === null ? {} : { headBranch: branch }),
    checks: [check]
  })
}
