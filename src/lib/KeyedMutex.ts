/**
 * One at a time per key, first come first served; different keys run side by side. A key's
 * lock lives only while someone holds or waits for it, so a million keys seen once cost nothing.
 */
import { Effect } from "effect"

export const makeKeyedMutex = Effect.sync(() => {
  const locks = new Map<string, { readonly lock: Effect.Semaphore; users: number }>()
  return <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        let entry = locks.get(key)
        if (entry === undefined) {
          entry = { lock: Effect.unsafeMakeSemaphore(1), users: 0 }
          locks.set(key, entry)
        }
        entry.users++
        return entry
      }),
      (entry) => entry.lock.withPermits(1)(effect),
      (entry) => Effect.sync(() => {
        if (--entry.users === 0) locks.delete(key)
      })
    )
})
