/**
 * The session machine, one actor per coding-agent session: what its work has reached (its PR, CI,
 * review) and whether its agent is alive, in two parallel regions. Pure: time arrives on events;
 * the runtime persists the snapshot (the `sessions` row: `state`, the value and the context as
 * JSON) and interprets the returned actions. Observing PRs, counting failed runs and deduping
 * comments are the runtime's.
 *
 * Decisions (the runtime builds on them):
 * - Two regions, `work` (spawning .. mergeable, merged and killed final) and `liveness` (alive,
 *   gone final). The flat state (`stateOf`, the `state` column) is killed, else merged, else died
 *   when liveness is gone, else the work state: a death never erases what is known of the PR,
 *   and a PR that merges after its agent died still shows merged.
 * - PR_OBSERVED is level-triggered: the next work state follows from the facts observed, and
 *   reactions fire on edges against the context, so the same observation twice (its comments
 *   already forwarded) changes nothing and emits nothing.
 * - The work follows one PR, `prUrl`: the latest open one observed. A PR observed closed moves the
 *   work back to working only if it is that PR (or none is followed); another closed PR is ignored.
 *   Switching to another open PR starts its counts and notifications afresh.
 * - Fixing is sticky: while `fixing`, an observation at the same head commit whose facts say
 *   ci_failed or changes_requested stays fixing (the agent is on it); a new head commit moves on.
 * - CI budget per failing streak (ended by a passed run, or by leaving the PR): the runtime reports
 *   `failedRuns` (distinct failed head commits in the streak); each new high below 3 messages the
 *   agent; reaching 3 pages a human once and messages the agent no more (auto-fixing stops).
 *   `failedRuns` in the context is the streak's highest report, so a lower report never re-arms.
 * - Agent actions (messageAgent, forwardComment) go only to a live agent; human ones always.
 * - First termination wins: terminationReason and terminationDetail are set once.
 * - After merged or killed, LIVENESS false is the normal end of the agent: liveness goes gone
 *   silently. Liveness never comes back: a session that died is over, start a new one.
 * - TERMINATE kills from any live work state, a died session's included (stopAgent then lets the
 *   runtime clean up what is left). After killed every PR observation is refused, a merge too.
 * - AGENT_MESSAGE_DEAD (a message to the agent was given up) is never refused: it pages a human.
 *
 * Result of `step`: `Stepped { state, value, context, changed, actions }` or a
 * SessionTransitionRefused with the reason. `changed` says whether the row must be written.
 */
import { assign, enqueueActions, setup, type SnapshotFrom, stateIn } from "xstate"
import { SessionTransitionRefused } from "../domain/errors.js"
import type { CiState, Mergeability, ReviewDecision, TerminationReason } from "../domain/Session.js"
import { makePureStep } from "./internal/pureStep.js"

export const workStates = [
  "spawning",
  "working",
  "pr_open",
  "ci_running",
  "ci_failed",
  "fixing",
  "review_pending",
  "changes_requested",
  "approved",
  "mergeable",
  "merged",
  "killed"
] as const
export type WorkState = typeof workStates[number]

/** The work states the session can still leave. */
export type LiveWorkState = Exclude<WorkState, "merged" | "killed">

export const livenessStates = ["alive", "gone"] as const
export type LivenessState = typeof livenessStates[number]

/** The machine's state value (persisted as JSON). */
export interface SessionValue {
  readonly work: WorkState
  readonly liveness: LivenessState
}

/** The flat states the `sessions.state` column holds and the API shows (for its CHECK constraint). */
export const sessionStates = [...workStates, "died"] as const
export type SessionState = typeof sessionStates[number]

/** Failed runs of a streak at which a human is paged and the agent no longer messaged. */
export const ciStuckAfter = 3

/** Plain JSON the `sessions` row holds. */
export interface SessionContext {
  readonly isAlive: boolean
  /** Why the session ended; the first termination wins. */
  readonly terminationReason: TerminationReason | null
  readonly terminationDetail: string | null
  /** The PR the work follows: the latest open one observed; null when none or it was closed. */
  readonly prUrl: string | null
  readonly headSha: string | null
  /** The highest failedRuns reported in the followed PR's current failing streak (0 after a passed run). */
  readonly failedRuns: number
  /** A human was paged for this streak (re-armed by a passed run). */
  readonly paged: boolean
  readonly approvedNotified: boolean
  readonly changesRequestedNotified: boolean
}

export interface FailingCheck {
  readonly name: string
  readonly detailsUrl: string | null
  readonly failedStep: string | null
  readonly logExcerpt: string | null
}

export interface PrFacts {
  readonly url: string
  readonly state: "open" | "closed" | "merged"
  readonly reviewDecision: ReviewDecision | null
  readonly mergeability: Mergeability | null
  readonly headSha: string
  readonly ciState: CiState
  /** Distinct head commits with failed CI in the current streak (0 after a passed run), from history. */
  readonly failedRuns: number
  readonly failingChecks: ReadonlyArray<FailingCheck>
}

export interface NewComment {
  readonly id: string
  readonly author: string
  readonly body: string
  readonly path: string | null
  readonly line: number | null
}

export type SessionEvent =
  | { readonly type: "ACTIVITY"; readonly now: number; readonly kind: string }
  | {
    readonly type: "PR_OBSERVED"
    readonly now: number
    readonly pr: PrFacts
    /** Only comments never forwarded before (the runtime dedupes). */
    readonly newComments: ReadonlyArray<NewComment>
  }
  | {
    readonly type: "LIVENESS"
    readonly now: number
    readonly alive: boolean
    readonly reason: string | null
    /** `observed`: a liveness report; `reaper`: the reaper found the runtime gone. */
    readonly cause: "observed" | "reaper"
  }
  | { readonly type: "TERMINATE"; readonly now: number; readonly reason: string }
  /** A message to the agent was given up (its delivery is dead). */
  | { readonly type: "AGENT_MESSAGE_DEAD"; readonly now: number; readonly deliveryId: string; readonly messageKind: string }

export type SessionEventType = SessionEvent["type"]
type PrObserved = Extract<SessionEvent, { type: "PR_OBSERVED" }>

export interface MessageAgentParams {
  readonly kind: "ci_failed"
  readonly prUrl: string
  readonly headSha: string
  readonly failedRuns: number
  readonly checks: ReadonlyArray<FailingCheck>
}
export interface ForwardCommentParams {
  readonly prUrl: string
  readonly comment: NewComment
}
export type NotifyHumanParams =
  | { readonly priority: "low"; readonly kind: "session.pr_merged"; readonly prUrl: string }
  | { readonly priority: "normal"; readonly kind: "session.changes_requested" | "session.approved"; readonly prUrl: string }
  | { readonly priority: "high"; readonly kind: "session.died"; readonly reason: string | null }
export type PageHumanParams =
  | { readonly priority: "urgent"; readonly kind: "session.ci_stuck"; readonly prUrl: string; readonly failedRuns: number }
  | {
    readonly priority: "urgent"
    readonly kind: "session.agent_unreachable"
    readonly deliveryId: string
    readonly messageKind: string
  }
export interface StopAgentParams {
  readonly reason: string
}

export type SessionAction =
  | { readonly type: "messageAgent" } & MessageAgentParams
  | { readonly type: "forwardComment" } & ForwardCommentParams
  | { readonly type: "notifyHuman" } & NotifyHumanParams
  | { readonly type: "pageHuman" } & PageHumanParams
  | { readonly type: "stopAgent" } & StopAgentParams

/** What an actor of the machine may be started with (an inspector's); the context does not depend on it. */
export interface SessionMachineInput {
  readonly sessionId?: string
}

/** What a PR's own streak and notifications start from: a new followed PR, or none. */
const freshStreak = { failedRuns: 0, paged: false, approvedNotified: false, changesRequestedNotified: false } as const

/** A session just started: spawning, alive, nothing observed. */
export const spawnedSession: SessionContext = {
  isAlive: true,
  terminationReason: null,
  terminationDetail: null,
  prUrl: null,
  headSha: null,
  ...freshStreak
}

/** The work state an open PR's facts say, before fixing's stickiness. */
const workOfOpenPr = (pr: PrFacts): LiveWorkState => {
  switch (pr.ciState) {
    case "failed":
      return "ci_failed"
    case "running":
      return "ci_running"
    case "pending":
      return "pr_open"
    case "passed":
      return pr.reviewDecision === "changes_requested"
        ? "changes_requested"
        : pr.reviewDecision === "approved"
        ? pr.mergeability === "mergeable" ? "mergeable" : "approved"
        : "review_pending"
  }
}

interface PrReaction {
  readonly work: WorkState
  readonly context: SessionContext
  readonly actions: ReadonlyArray<SessionAction>
}

const forwardsOf = (c: SessionContext, e: PrObserved): Array<SessionAction> =>
  c.isAlive ? e.newComments.map((comment) => ({ type: "forwardComment", prUrl: e.pr.url, comment })) : []

/** What a PR observation does from a live work state: the next work state, the context, the reactions. */
export const reactToPr = (from: LiveWorkState, c: SessionContext, e: PrObserved): PrReaction => {
  const pr = e.pr
  if (pr.state === "merged") {
    return {
      work: "merged",
      context: { ...c, prUrl: pr.url, headSha: pr.headSha, terminationReason: c.terminationReason ?? "pr_merged" },
      actions: [{ type: "notifyHuman", priority: "low", kind: "session.pr_merged", prUrl: pr.url }]
    }
  }
  if (pr.state === "closed") {
    // Another PR than the one followed closing says nothing about this work.
    if (c.prUrl !== null && c.prUrl !== pr.url) return { work: from, context: c, actions: forwardsOf(c, e) }
    return {
      work: "working",
      context: { ...c, prUrl: null, headSha: null, ...freshStreak },
      actions: forwardsOf(c, e)
    }
  }
  const samePr = c.prUrl === pr.url
  // Another PR's streak and notifications are its own.
  const base = samePr ? c : { ...c, ...freshStreak }
  const facts = workOfOpenPr(pr)
  const staysFixing = from === "fixing" && samePr && pr.headSha === c.headSha &&
    (facts === "ci_failed" || facts === "changes_requested")
  const work: WorkState = staysFixing ? "fixing" : facts
  const actions: Array<SessionAction> = []
  let failedRuns = base.failedRuns
  let paged = base.paged
  if (pr.ciState === "failed") {
    if (pr.failedRuns > base.failedRuns) {
      if (pr.failedRuns < ciStuckAfter) {
        if (c.isAlive) {
          actions.push({
            type: "messageAgent",
            kind: "ci_failed",
            prUrl: pr.url,
            headSha: pr.headSha,
            failedRuns: pr.failedRuns,
            checks: pr.failingChecks
          })
        }
      } else if (!base.paged) {
        actions.push({ type: "pageHuman", priority: "urgent", kind: "session.ci_stuck", prUrl: pr.url, failedRuns: pr.failedRuns })
        paged = true
      }
      failedRuns = pr.failedRuns
    }
  } else if (pr.ciState === "passed") {
    failedRuns = 0
    paged = false
  }
  let changesRequestedNotified = false
  if (work === "changes_requested") {
    changesRequestedNotified = true
    if (!base.changesRequestedNotified) {
      actions.push({ type: "notifyHuman", priority: "normal", kind: "session.changes_requested", prUrl: pr.url })
    }
  }
  let approvedNotified = false
  if (work === "approved" || work === "mergeable") {
    approvedNotified = true
    if (!base.approvedNotified) actions.push({ type: "notifyHuman", priority: "normal", kind: "session.approved", prUrl: pr.url })
  }
  return {
    work,
    context: { ...c, prUrl: pr.url, headSha: pr.headSha, failedRuns, paged, approvedNotified, changesRequestedNotified },
    actions: [...actions, ...forwardsOf(c, e)]
  }
}

type Ctx = { readonly context: SessionContext; readonly event: SessionEvent }

const deathOf = (e: Extract<SessionEvent, { type: "LIVENESS" }>): TerminationReason =>
  e.cause === "reaper" ? "runtime_gone" : "agent_exited"

/** Where a PR observation can lead from `from`: wherever the facts say, or nowhere (fixing, another PR closed). */
const prTargets = (from: LiveWorkState): ReadonlyArray<WorkState> =>
  [from, ...workStates.filter((s) => s !== from && s !== "spawning" && s !== "fixing" && s !== "killed")]

/**
 * A work state the session can still leave: the facts of a PR move it, TERMINATE kills it, and
 * activity of the live agent moves it to `activity.target` (or changes nothing).
 */
const live = (
  from: LiveWorkState,
  activity?: { readonly target: LiveWorkState; readonly actions?: "startFixing" }
) => ({
  on: {
    ACTIVITY: activity === undefined
      ? { guard: "agentAlive" as const, actions: "keep" as const }
      : { guard: "agentAlive" as const, target: activity.target, actions: activity.actions ?? ("keep" as const) },
    PR_OBSERVED: prTargets(from).map((to) => ({
      guard: { type: "prLeadsTo" as const, params: { from, to } },
      ...(to === from ? {} : { target: to }),
      actions: { type: "reactToPr" as const, params: { from } }
    })),
    TERMINATE: {
      target: "killed",
      actions: [
        "terminate" as const,
        {
          type: "stopAgent" as const,
          params: ({ event }: Ctx) => ({ reason: event.type === "TERMINATE" ? event.reason : "" })
        }
      ]
    }
  }
})

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionMachineInput | undefined
  },
  guards: {
    agentAlive: stateIn({ liveness: "alive" }),
    prLeadsTo: ({ context, event }: Ctx, params: { readonly from: LiveWorkState; readonly to: WorkState }) =>
      event.type === "PR_OBSERVED" && reactToPr(params.from, context, event).work === params.to,
    prMerged: ({ event }: Ctx) => event.type === "PR_OBSERVED" && event.pr.state === "merged",
    reportsAlive: ({ event }: Ctx) => event.type === "LIVENESS" && event.alive,
    reportsGone: ({ event }: Ctx) => event.type === "LIVENESS" && !event.alive,
  },
  actions: {
    reactToPr: enqueueActions(({ context, event, enqueue }, params: { readonly from: LiveWorkState }) => {
      if (event.type !== "PR_OBSERVED") return
      const r = reactToPr(params.from, context, event)
      enqueue.assign(() => r.context)
      for (const { type, ...p } of r.actions) enqueue({ type, params: p } as never)
    }),
    /** Leaving changes_requested for fixing re-arms its notification. */
    startFixing: assign({ changesRequestedNotified: false }),
    terminate: assign(({ context, event }) => {
      const first = context.terminationReason === null
      return {
        isAlive: false,
        terminationReason: context.terminationReason ?? "killed",
        terminationDetail: first && event.type === "TERMINATE" ? event.reason : context.terminationDetail
      }
    }),
    die: assign(({ context, event }) => {
      if (event.type !== "LIVENESS") return {}
      const first = context.terminationReason === null
      return {
        isAlive: false,
        terminationReason: context.terminationReason ?? deathOf(event),
        terminationDetail: first ? event.reason : context.terminationDetail
      }
    }),
    /** The agent of a finished session exiting: the normal end, nothing to tell. */
    agentEnded: assign({ isAlive: false }),
    /** An event that legitimately changes nothing. */
    keep: assign({}),
    messageAgent: (_, _params: MessageAgentParams) => {},
    forwardComment: (_, _params: ForwardCommentParams) => {},
    notifyHuman: (_, _params: NotifyHumanParams) => {},
    pageHuman: (_, _params: PageHumanParams) => {},
    stopAgent: (_, _params: StopAgentParams) => {}
  }
}).createMachine({
  id: "session",
  type: "parallel",
  context: () => spawnedSession,
  on: {
    AGENT_MESSAGE_DEAD: {
      actions: {
        type: "pageHuman",
        params: ({ event }) =>
          event.type === "AGENT_MESSAGE_DEAD"
            ? { priority: "urgent", kind: "session.agent_unreachable", deliveryId: event.deliveryId, messageKind: event.messageKind }
            : { priority: "urgent", kind: "session.agent_unreachable", deliveryId: "", messageKind: "" }
      }
    }
  },
  states: {
    work: {
      initial: "spawning",
      states: {
        spawning: live("spawning", { target: "working" }),
        working: live("working"),
        pr_open: live("pr_open"),
        ci_running: live("ci_running"),
        ci_failed: live("ci_failed", { target: "fixing" }),
        fixing: live("fixing"),
        review_pending: live("review_pending"),
        changes_requested: live("changes_requested", { target: "fixing", actions: "startFixing" }),
        approved: live("approved"),
        mergeable: live("mergeable"),
        merged: { type: "final", on: { PR_OBSERVED: { guard: "prMerged", actions: "keep" } } },
        killed: { type: "final" }
      }
    },
    liveness: {
      initial: "alive",
      states: {
        alive: {
          on: {
            LIVENESS: [
              { guard: "reportsAlive", actions: "keep" },
              { guard: stateIn({ work: "merged" }), target: "gone", actions: "agentEnded" },
              { guard: stateIn({ work: "killed" }), target: "gone", actions: "agentEnded" },
              {
                target: "gone",
                actions: [
                  "die",
                  {
                    type: "notifyHuman",
                    params: ({ event }) => ({
                      priority: "high",
                      kind: "session.died",
                      reason: event.type === "LIVENESS" ? event.reason : null
                    })
                  }
                ]
              }
            ]
          }
        },
        gone: { type: "final", on: { LIVENESS: { guard: "reportsGone", actions: "keep" } } }
      }
    }
  }
})

export type SessionSnapshot = SnapshotFrom<typeof sessionMachine>

/** What a `sessions` row holds of the machine: its state value and its context (JSON columns). */
export interface PersistedSession {
  readonly value: SessionValue
  readonly context: SessionContext
}

/** A step's result: the next flat state, value and context, whether the row changed, what the runtime must do. */
export interface Stepped {
  readonly _tag: "Stepped"
  readonly state: SessionState
  readonly value: SessionValue
  readonly context: SessionContext
  /** False when nothing the row holds changed: write nothing, announce nothing. */
  readonly changed: boolean
  readonly actions: ReadonlyArray<SessionAction>
}

/** The flat state: killed, else merged, else died once liveness is gone, else the work state. */
export const stateOf = (s: { readonly value: SessionValue }): SessionState =>
  s.value.work === "killed" || s.value.work === "merged"
    ? s.value.work
    : s.value.liveness === "gone"
    ? "died"
    : s.value.work

const pureStep = makePureStep(sessionMachine, {})

/** A new session: spawning and alive. */
export const initialSession = (): SessionSnapshot =>
  sessionMachine.resolveState({ value: { work: "spawning", liveness: "alive" }, context: spawnedSession })

/** The snapshot of a persisted session, from its value and context columns. */
export const restoreSession = (persisted: PersistedSession): SessionSnapshot =>
  sessionMachine.resolveState({ value: { ...persisted.value }, context: persisted.context })

const valueOf = (s: SessionSnapshot): SessionValue => {
  const v = s.value as { work: WorkState; liveness: LivenessState }
  return { work: v.work, liveness: v.liveness }
}

const finalWork = (work: WorkState): string | null =>
  work === "merged"
    ? "merged is final: the session's PR merged and its work is done"
    : work === "killed"
    ? "killed is final: the session was terminated"
    : null

const whyRefused = (value: SessionValue, event: SessionEvent): string => {
  const ended = finalWork(value.work)
  switch (event.type) {
    case "LIVENESS":
      return "the session died; liveness does not come back: start a new session"
    case "ACTIVITY":
      return ended ?? "the session died: activity of its agent cannot move it any more"
    case "PR_OBSERVED":
      return ended ?? `a ${event.pr.state} PR has no transition from ${value.work}`
    default:
      return ended ?? `${event.type} has no transition from ${value.work}`
  }
}

const sameContext = (a: SessionContext, b: SessionContext): boolean =>
  a.isAlive === b.isAlive && a.terminationReason === b.terminationReason &&
  a.terminationDetail === b.terminationDetail && a.prUrl === b.prUrl && a.headSha === b.headSha &&
  a.failedRuns === b.failedRuns && a.paged === b.paged && a.approvedNotified === b.approvedNotified &&
  a.changesRequestedNotified === b.changesRequestedNotified

const isSnapshot = (s: SessionSnapshot | PersistedSession): s is SessionSnapshot =>
  "machine" in s && s.machine === sessionMachine

/**
 * One transition, from a snapshot or a persisted row (a previous Stepped will do). An event with
 * no transition is a SessionTransitionRefused with its reason (XState would silently ignore it).
 */
export const step = (
  from: SessionSnapshot | PersistedSession,
  event: SessionEvent,
  sessionId?: string
): Stepped | SessionTransitionRefused => {
  const before = isSnapshot(from) ? from : restoreSession(from)
  const value = valueOf(before)
  const [after, executed] = pureStep(before, event)
  // Every accepted transition assigns, moves or emits, so an untouched snapshot with nothing
  // executed is a refusal (an actions-only transition gives the same snapshot back).
  if (after.value === before.value && after.context === before.context && executed.length === 0) {
    return new SessionTransitionRefused({
      ...(sessionId === undefined ? {} : { sessionId }),
      state: stateOf({ value }),
      event: event.type,
      reason: whyRefused(value, event)
    })
  }
  const next = valueOf(after)
  return {
    _tag: "Stepped",
    state: stateOf({ value: next }),
    value: next,
    context: after.context,
    changed: next.work !== value.work || next.liveness !== value.liveness || !sameContext(after.context, before.context),
    actions: executed.map((a) => ({ type: a.type, ...(a.params as object) }) as SessionAction)
  }
}
