/**
 * A signal many fibers can wait on with a timeout. Waiters say which generation they last
 * saw, so a notify that lands while they are busy (before they wait) is never lost.
 */
import { Deferred, Duration, Effect, Ref } from "effect"

export interface Wakeup {
  readonly notify: Effect.Effect<void>
  /** The current generation: read it before doing the work a later `waitAfter` follows. */
  readonly generation: Effect.Effect<number>
  /** Returns at once if a notify came after `seen`; otherwise waits for one, at most `timeout`. */
  readonly waitAfter: (seen: number, timeout: Duration.DurationInput) => Effect.Effect<void>
}

export const makeWakeup = Effect.gen(function* () {
  const state = yield* Ref.make({ generation: 0, next: yield* Deferred.make<void>() })
  const notify = Effect.flatMap(Deferred.make<void>(), (fresh) =>
    Ref.modify(state, (s) => [s.next, { generation: s.generation + 1, next: fresh }]).pipe(
      Effect.flatMap((old) => Deferred.succeed(old, undefined))
    ))
  const generation = Effect.map(Ref.get(state), (s) => s.generation)
  const waitAfter = (seen: number, timeout: Duration.DurationInput) =>
    Ref.get(state).pipe(
      Effect.flatMap((s) => (s.generation !== seen ? Effect.void : Effect.timeoutOption(Deferred.await(s.next), timeout))),
      Effect.asVoid
    )
  return { notify: Effect.asVoid(notify), generation, waitAfter } satisfies Wakeup
})
