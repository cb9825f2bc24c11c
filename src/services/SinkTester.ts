/**
 * Test sends: one made-up notification through a named sink, at once, with the same call timeout
 * as a real delivery, answering what happened. Nothing is stored and nothing is retried: it is
 * how an operator checks a webhook URL, a Slack hook or SMTP credentials before routing to them
 * (disabled sinks can be tested too).
 */
import { Cause, Clock, Effect, Exit, Option, Schema } from "effect"
import { InvalidInput, SinkNotFound } from "../domain/errors.js"
import { pullSinkTypes, sinkNamed } from "../domain/Settings.js"
import type { SinkDelivery } from "../domain/Sink.js"
import { SinkFailure } from "../domain/Sink.js"
import { callTimeoutMs, timeoutFailure } from "../runtime/internal/callTimeout.js"
import { makeId } from "../lib/ids.js"
import { SettingsStore } from "../store/SettingsStore.js"
import { Sinks } from "../runtime/Sinks.js"

export const SinkTestResult = Schema.Struct({
  sink: Schema.String,
  ok: Schema.Boolean,
  durationMs: Schema.Number,
  /** The test delivery's id, as the receiver saw it (`webhook-id`, Message-ID). */
  deliveryId: Schema.String,
  externalId: Schema.optional(Schema.String),
  code: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  retryable: Schema.optional(Schema.Boolean)
})
export type SinkTestResult = typeof SinkTestResult.Type

export class SinkTester extends Effect.Service<SinkTester>()("herald/SinkTester", {
  effect: Effect.gen(function* () {
    const settingsStore = yield* SettingsStore
    const sinks = yield* Sinks

    const test = Effect.fn("SinkTester.test")(function* (name: string) {
      const settings = yield* settingsStore.get
      const config = sinkNamed(settings, name)
      if (config === undefined) return yield* new SinkNotFound({ sink: name })
      const impl = sinks.get(config.type)
      if (pullSinkTypes.has(config.type) || impl === undefined) {
        return yield* new InvalidInput({
          what: "sink test",
          issues: [{ path: "sink", message: `'${name}' is a ${config.type} sink: its app claims deliveries over the API, so there is nothing to send to` }]
        })
      }
      const now = yield* Clock.currentTimeMillis
      const deliveryId = makeId("tst", now)
      const delivery: SinkDelivery = {
        deliveryId,
        idempotencyKey: deliveryId,
        attempt: 1,
        sink: name,
        notification: {
          id: makeId("ntf", now),
          kind: "herald.test",
          priority: "normal",
          title: "Herald test notification",
          body: `A test send to the sink '${name}'; nothing was stored.`,
          payload: { test: true },
          projectId: null,
          sessionId: null,
          createdAt: now
        }
      }
      const exit = yield* Effect.exit(Effect.suspend(() => impl.deliver(config, delivery)).pipe(
        Effect.timeoutFail({ duration: callTimeoutMs(config, settings.leaseMs), onTimeout: () => timeoutFailure })
      ))
      const durationMs = (yield* Clock.currentTimeMillis) - now
      if (Exit.isSuccess(exit)) {
        const externalId = exit.value?.externalId
        return { sink: name, ok: true, durationMs, deliveryId, ...(typeof externalId === "string" ? { externalId } : {}) } satisfies SinkTestResult
      }
      const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
      const f = failure instanceof SinkFailure
        ? failure
        : new SinkFailure({ retryable: true, code: "defect", message: Cause.pretty(exit.cause).split("\n")[0] ?? "the sink failed" })
      return { sink: name, ok: false, durationMs, deliveryId, code: f.code, message: f.message, retryable: f.retryable } satisfies SinkTestResult
    })

    return { test } as const
  })
}) {}
