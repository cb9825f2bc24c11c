import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { SinkFailure } from "../../src/domain/Sink.js"
import type { Herald } from "../../src/layers/Herald.js"
import { MemorySink } from "../../src/sinks/memory.js"
import { eventually, withHerald } from "../support/herald.js"

/** Two dead deliveries on the memory sink: every send fails for good. */
const twoDead = (herald: Herald["Type"]) =>
  Effect.gen(function* () {
    const mem = yield* MemorySink
    yield* mem.setHandler(() => Effect.fail(new SinkFailure({ retryable: false, code: "gone", message: "no such receiver" })))
    const ids: Array<string> = []
    for (const title of ["a", "b"]) {
      const { notification } = yield* herald.enqueue({ kind: "k", title })
      const d = yield* eventually(herald.getNotification(notification.id).pipe(Effect.map((n) => n.deliveries[0])), (d) => d?.status === "dead", `${title} dead`)
      ids.push(d!.id)
    }
    return ids
  })

describe("OperatorCommands", () => {
  it.scoped("a bulk requeue with an empty filter is refused at `all` and changes nothing; with all: true it requeues", () =>
    withHerald((herald) => Effect.gen(function* () {
      const ids = yield* twoDead(herald)
      const before = yield* herald.listDeliveries({})
      const seq = yield* herald.latestSeq
      for (const selector of [{}, { limit: 10 }, { all: false }]) {
        const refused = yield* Effect.flip(herald.requeueMany(selector))
        expect(refused).toMatchObject({ _tag: "InvalidInput", issues: [{ path: "all" }] })
      }
      expect(yield* herald.listDeliveries({})).toEqual(before)
      expect(yield* herald.latestSeq).toBe(seq)
      // Saying so, or naming a status or a sink, is a filter that means it.
      // The requeued calls wait until the end, so they are not dead again meanwhile; then they
      // end, so shutdown has no call in flight to wait its grace period (on the test clock) for.
      const mem = yield* MemorySink
      const release = yield* Deferred.make<void>()
      yield* mem.setHandler(() => Effect.as(Deferred.await(release), {}))
      const report = yield* herald.requeueMany({ all: true })
      expect([...report.requeued].sort()).toEqual([...ids].sort())
      expect((yield* herald.requeueMany({ status: "dead", sink: "mem" })).requested).toBe(0)
      yield* Deferred.succeed(release, undefined)
      yield* eventually(herald.stats(), (s) => s.byStatus["sent"] === 2, "the requeued ones sent")
    })))
})
