import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { dedupeKeyOf, Idempotency, idempotencyKeyTtlMs } from "../../src/http/Idempotency.js"
import { withHerald } from "../support/herald.js"

describe("Idempotency-Key expiry", () => {
  it.scoped("a key stays bound to its body for 24 hours; an expired one binds afresh and is pruned", () =>
    Effect.gen(function* () {
      yield* withHerald(() =>
        Effect.gen(function* () {
          // The TestClock stays at 0: bindings made "earlier" are written with their age.
          const idempotency = yield* Idempotency
          const sql = yield* SqlClient.SqlClient
          const boundAt = (key: string, at: number) =>
            sql`INSERT INTO idempotency_keys (key, request_hash, created_at) VALUES (${key}, 'old-hash', ${at})`
          const keys = sql<{ key: string }>`SELECT key FROM idempotency_keys ORDER BY key`.pipe(Effect.map((r) => r.map((x) => x.key)))
          yield* boundAt("expired", -idempotencyKeyTtlMs)
          yield* boundAt("almost", -idempotencyKeyTtlMs + 1)
          // A fresh binding: from now on the key derives another dedupe key, so it makes a new notification.
          expect(yield* idempotency.bind("expired", { kind: "new body" })).toBe(0)
          expect(dedupeKeyOf("expired", 0)).not.toBe(dedupeKeyOf("expired", -idempotencyKeyTtlMs))
          expect(dedupeKeyOf("k".repeat(200), 0).length).toBeLessThanOrEqual(200)
          expect((yield* Effect.flip(idempotency.bind("almost", { kind: "new body" })))._tag).toBe("IdempotencyConflict")
          expect((yield* Effect.flip(idempotency.bind("expired", { kind: "yet another" })))._tag).toBe("IdempotencyConflict")

          yield* boundAt("stale-1", -idempotencyKeyTtlMs - 5)
          yield* boundAt("stale-2", -idempotencyKeyTtlMs)
          expect(yield* idempotency.prune()).toBe(2)
          expect(yield* keys).toEqual(["almost", "expired"])
        }).pipe(Effect.provide(Idempotency.Default)), { background: false })
    }))
})
