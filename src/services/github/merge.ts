/**
 * The PR observation the session API takes, from the PR as last stored and one PrFact: what the
 * fact says wins, checks are upserted by name at the head commit, comments are the fact's alone.
 */
import type { CheckObservation, PrObservation } from "../../domain/Session.js"
import type { PrFact } from "./fact.js"

export interface Incomplete {
  readonly _tag: "Incomplete"
  /** The fields neither the stored PR nor the event gave: `number`, `state`, `headSha`. */
  readonly missing: ReadonlyArray<string>
}

/** `checks` with each of `updates` in place of the check of its name (a new name goes last). */
const upsertChecks = (checks: ReadonlyArray<CheckObservation>, updates: ReadonlyArray<CheckObservation>) => {
  const byName = new Map(checks.map((c) => [c.name, c] as const))
  for (const u of updates) byName.set(u.name, u)
  return [...byName.values()]
}

/**
 * The observation of the PR at `url` after `fact`, or Incomplete when the PR was never stored and
 * the event does not say its number, state and head commit (a check event says no state).
 */
export const mergeFact = (stored: PrObservation | undefined, fact: PrFact, url: string): PrObservation | Incomplete => {
  const number = fact.number ?? stored?.number
  const state = fact.state ?? stored?.state
  const headSha = fact.headSha ?? stored?.headSha
  if (number === undefined || state === undefined || headSha === undefined) {
    const missing = [number === undefined && "number", state === undefined && "state", headSha === undefined && "headSha"]
    return { _tag: "Incomplete", missing: missing.filter((m): m is string => m !== false) }
  }
  // Checks belong to a commit: those of the previous head say nothing of the new one.
  const kept = stored === undefined || stored.headSha !== headSha ? [] : stored.checks
  const reviewDecision = fact.reviewDecision ?? stored?.reviewDecision
  const mergeability = fact.mergeability ?? stored?.mergeability
  const headBranch = fact.headBranch ?? stored?.headBranch
  return {
    url,
    number,
    state,
    ...(reviewDecision === undefined ? {} : { reviewDecision }),
    ...(mergeability === undefined ? {} : { mergeability }),
    headSha,
    ...(headBranch === undefined ? {} : { headBranch }),
    checks: upsertChecks(kept, fact.checks ?? []),
    comments: fact.comments ?? []
  }
}
