/** A signal many fibers can wait on with a timeout; `notify` wakes all current waiters. */
import { Deferred, Duration, Effect, Ref } from "effect"

export interface Wakeup {
  readonly notify: Effect.Effect<void>
  /** Waits for the next notify, or at most `timeout`. */
  readonly wait: (timeout: Duration.DurationInput) => Effect.Effect<void>
}

export const makeWakeup = Effect.gen(function* () {
  const current = yield* Ref.make(yield* Deferred.make<void>())
  const notify = Effect.flatMap(Deferred.make<void>(), (fresh) =>
    Ref.getAndSet(current, fresh).pipe(Effect.flatMap((old) => Deferred.succeed(old, undefined))))
  const wait = (timeout: Duration.DurationInput) =>
    Ref.get(current).pipe(
      Effect.flatMap((d) => Deferred.await(d)),
      Effect.timeoutOption(timeout),
      Effect.asVoid
    )
  return { notify: Effect.asVoid(notify), wait } satisfies Wakeup
})
