/**
 * A pull request's CI as the CI-fix loop counts it, from its check history (pr_checks): the CI
 * state at each head commit, and the failing streak (head commits whose CI failed since the
 * last green one, across commits). Pure.
 */
import { type CheckConclusion, type CheckStatus, type CiState, ciStateOf } from "../../domain/Session.js"

export interface HistoricCheck {
  readonly headSha: string
  readonly name: string
  readonly status: CheckStatus
  readonly conclusion: CheckConclusion | null
}

/** Each head commit's CI state, in the order the commits first appear in `checks`. */
export const ciByCommit = (checks: ReadonlyArray<HistoricCheck>): ReadonlyArray<{ readonly headSha: string; readonly ci: CiState }> => {
  const byCommit = new Map<string, Array<HistoricCheck>>()
  for (const c of checks) {
    const list = byCommit.get(c.headSha)
    if (list === undefined) byCommit.set(c.headSha, [c])
    else list.push(c)
  }
  return [...byCommit].map(([headSha, list]) => ({
    headSha,
    ci: ciStateOf(list.map((c) => ({ status: c.status, conclusion: c.conclusion ?? undefined })))
  }))
}

/**
 * Head commits with failed CI since the last commit whose CI passed (0 right after a green
 * run). Commits still running or with no checks neither count nor break the streak.
 */
export const failingStreak = (checks: ReadonlyArray<HistoricCheck>): number => {
  let streak = 0
  for (const { ci } of ciByCommit(checks)) {
    if (ci === "passed") streak = 0
    else if (ci === "failed") streak++
  }
  return streak
}
