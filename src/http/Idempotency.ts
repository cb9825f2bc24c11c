/**
 * The `Idempotency-Key` of POST /v1/notifications. The first use of a key records a hash of
 * its body; the notification is then enqueued under a dedupe key derived from the
 * Idempotency-Key (unless the body brings its own), so concurrent repeats collapse onto one
 * row through `notifications.dedupe_key`. A repeat with the same body answers the original;
 * with another body, IdempotencyConflict. SQL for `idempotency_keys` lives only here.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { createHash } from "node:crypto"
import { Writer } from "../services/Writer.js"
import { IdempotencyConflict } from "./errors.js"

/** JSON with object keys sorted, so key order and whitespace do not change the hash. */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`
  }
  return JSON.stringify(value)
}

export const requestHash = (body: unknown) => createHash("sha256").update(canonical(body)).digest("base64url")

/** The dedupe key a notification gets when its request carried only an Idempotency-Key. */
export const dedupeKeyOf = (key: string) => `idempotency:${key}`

export class Idempotency extends Effect.Service<Idempotency>()("herald/http/Idempotency", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const writer = yield* Writer

    /** Binds `key` to `body` on first use; fails when the key is already bound to another body. */
    const bind = Effect.fn("Idempotency.bind")(function* (key: string, body: unknown) {
      const hash = requestHash(body)
      const bound = yield* writer.transaction(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* sql`INSERT INTO idempotency_keys (key, request_hash, created_at) VALUES (${key}, ${hash}, ${now})
                   ON CONFLICT (key) DO NOTHING`
        return yield* sql<{ hash: string }>`SELECT request_hash AS hash FROM idempotency_keys WHERE key = ${key}`
      }))
      if (bound[0]?.hash !== hash) return yield* new IdempotencyConflict({ key })
    })

    return { bind } as const
  })
}) {}
