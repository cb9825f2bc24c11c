import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemorySink } from "../../src/sinks/memory.js"
import { eventually, withHerald } from "../support/herald.js"

describe("Enqueuer", () => {
  it.scoped("enqueue and enqueueMany inside an embedder's own transaction are written with it, and delivered once it commits", () =>
    withHerald((herald) => Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const mem = yield* MemorySink
      const [one, [many]] = yield* sql.withTransaction(Effect.all([
        herald.enqueue({ kind: "k", title: "one" }),
        herald.enqueueMany([{ kind: "k", title: "many" }])
      ]))
      expect([one.created, many!.created]).toEqual([true, true])
      const received = yield* eventually(mem.received, (r) => r.length === 2, "both delivered")
      expect(received.map((d) => d.notification.title).sort()).toEqual(["many", "one"])
      for (const n of [one, many!]) {
        const sent = (id: string) => Effect.map(herald.getNotification(id), (x) => x.deliveries.map((d) => d.status))
        yield* eventually(sent(n.notification.id), (s) => s.join() === "sent", "recorded as sent")
      }
    })), 20_000)

  it.scoped("a notification enqueued in a transaction that rolls back leaves no row, no lease and no delivery", () =>
    withHerald((herald) => Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const mem = yield* MemorySink
      const failed = yield* Effect.flip(sql.withTransaction(
        herald.enqueue({ kind: "k", title: "rolled back" }).pipe(Effect.zipRight(Effect.fail("the embedder's own failure" as const)))
      ))
      expect(failed).toBe("the embedder's own failure")
      // A later notification is delivered: the dispatcher was not left waiting on anything.
      const { notification } = yield* herald.enqueue({ kind: "k", title: "after" })
      yield* eventually(herald.getNotification(notification.id), (n) => n.deliveries[0]?.status === "sent", "the later one sent")
      expect((yield* mem.received).map((d) => d.notification.id)).toEqual([notification.id])
      expect((yield* herald.listNotifications({})).items.map((n) => n.title)).toEqual(["after"])
      expect((yield* herald.listDeliveries({ status: "leased" })).items).toEqual([])
    })), 20_000)
})
