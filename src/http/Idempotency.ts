/**
 * The `Idempotency-Key` of POST /v1/notifications and of /batch (for the batch as a whole).
 * The first use of a key records a hash of its body; the notification is then enqueued under
 * a dedupe key derived from the key and that binding (unless the body brings its own; in a
 * batch, one per item and its index), so concurrent repeats collapse onto one row
 * through `notifications.dedupe_key`. A repeat with the same body answers the original; with
 * another body, IdempotencyConflict. A key is remembered for 24 hours; after that it binds
 * afresh, and a new binding derives a new dedupe key, so a reused key creates a new
 * notification instead of answering an old one. The bindings are IdempotencyStore's.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { inBatches, runForever } from "../lib/loops.js"
import { IdempotencyStore } from "../store/IdempotencyStore.js"
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

/**
 * The dedupe key a notification gets when its request carried only an Idempotency-Key: one per
 * binding (key and when it was bound), and per `index` for a batch's items, of fixed length
 * whatever the key's (a dedupe key has at most 200 characters).
 */
export const dedupeKeyOf = (key: string, boundAt: number, index?: number) =>
  `idempotency:${createHash("sha256").update(index === undefined ? `${key}\n${boundAt}` : `${key}\n${boundAt}\n${index}`).digest("base64url")}`

/**
 * The items of a batch sent with an Idempotency-Key: each object without its own dedupe key
 * gets one derived from the binding and its index, so the batch sent again answers the same
 * notifications and two equal items of one batch stay two. Other items are left to be rejected.
 */
export const withBatchDedupeKeys = (items: ReadonlyArray<unknown>, key: string, boundAt: number): ReadonlyArray<unknown> =>
  items.map((item, index) =>
    item !== null && typeof item === "object" && !Array.isArray(item) && !Object.hasOwn(item, "dedupeKey")
      ? { ...item, dedupeKey: dedupeKeyOf(key, boundAt, index) }
      : item)

/** How long a key stays bound to its body. */
export const idempotencyKeyTtlMs = 24 * 60 * 60 * 1_000
const pruneBatch = 5_000

export class Idempotency extends Effect.Service<Idempotency>()("herald/http/Idempotency", {
  scoped: Effect.gen(function* () {
    const store = yield* IdempotencyStore

    /**
     * Binds `key` to `body` on first use; fails when the key is already bound to another body.
     * Returns when the binding in force was made (what `dedupeKeyOf` derives from).
     */
    const bind = Effect.fn("Idempotency.bind")(function* (key: string, body: unknown) {
      const hash = requestHash(body)
      // An expired binding not pruned yet counts as gone: the key binds afresh.
      const bound = yield* store.bind(key, hash, idempotencyKeyTtlMs)
      if (bound === undefined || bound.hash !== hash) return yield* new IdempotencyConflict({ key })
      return bound.boundAt
    })

    /** Deletes the bindings older than the TTL, in short transactions; returns how many. */
    const prune = Effect.fn("Idempotency.prune")(function* () {
      return yield* inBatches(pruneBatch, store.pruneOlderThan(idempotencyKeyTtlMs, pruneBatch))
    })

    yield* Effect.forkScoped(runForever(Effect.zipRight(Effect.sleep("1 minute"), prune()), "pruning idempotency keys"))

    return { bind, prune } as const
  })
}) {}
