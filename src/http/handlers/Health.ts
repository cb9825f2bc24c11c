/**
 * Handlers of liveness and readiness. Neither needs the token: they hold no data. Ready means
 * not draining, the database writable within a second and with room to grow, migrations current.
 */
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { Deferred, Effect, Either, Option, Ref } from "effect"
import { StorageHealth } from "../../store/StorageHealth.js"
import { HeraldApi } from "../Api.js"
import { Draining } from "../Draining.js"
import { NotReady } from "../errors.js"

export const HealthLive = HttpApiBuilder.group(HeraldApi, "health", (handlers) =>
  Effect.gen(function* () {
    const draining = yield* Draining
    const storage = yield* StorageHealth
    const { buildVersion } = storage
    const notReady = (reason: string) =>
      HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", "5"))).pipe(
        Effect.zipRight(new NotReady({ reason, retryAfterSeconds: 5 }))
      )

    // The write lock taken: proof the database is writable right now.
    const writable = storage.writable
    type Writable = typeof writable

    // The writer waits up to 30 s for a lock another process holds (Writer.ts) and queues
    // behind a long write of its own, and waiting for its connection cannot be interrupted:
    // the probe runs on its own fiber, one at a time however many callers ask (it needs no
    // token), and each caller waits for it at most a second.
    const scope = yield* Effect.scope
    const running = yield* Ref.make(Option.none<Deferred.Deferred<Effect.Effect.Success<Writable>, Effect.Effect.Error<Writable>>>())
    const joinOrStart = Effect.uninterruptible(Effect.gen(function* () {
      const mine = yield* Deferred.make<Effect.Effect.Success<Writable>, Effect.Effect.Error<Writable>>()
      const current = yield* Ref.modify(running, (r) => (Option.isSome(r) ? [r.value, r] : [mine, Option.some(mine)]))
      if (current === mine) {
        // Interruptible again on its fiber: shutdown must not wait out a 30 s retry.
        yield* Effect.intoDeferred(writable, mine).pipe(
          Effect.ensuring(Ref.set(running, Option.none())),
          Effect.interruptible,
          Effect.forkIn(scope)
        )
      }
      return current
    }))
    const probe = Effect.flatMap(joinOrStart, Deferred.await).pipe(
      Effect.timeoutFail({ duration: "1 second", onTimeout: () => "busy" as const }),
      Effect.either
    )

    const readyz = Effect.gen(function* () {
      if (yield* draining.isDraining) return yield* notReady("shutting down")
      const outcome = yield* probe
      if (Either.isLeft(outcome)) {
        return yield* notReady(outcome.left === "busy"
          ? "the writer has been busy for over a second"
          : `the database is not writable: ${outcome.left.message}`)
      }
      const { version, pages } = outcome.right
      // The disk is asked outside the transaction: no write lock is held across I/O.
      const full = yield* storage.fullness(pages)
      if (Option.isSome(full)) return yield* notReady(`storage full: ${full.value}; free disk space`)
      if (version !== buildVersion) return yield* notReady(`the database is at migration ${version}, this build expects ${buildVersion}`)
      return { status: "ready" as const, migration: version }
    })

    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () => readyz)
  }))
