/**
 * Support for the many-process tests on PostgreSQL: a real webhook receiver counting each
 * delivery's calls, the settings that route every notification to it, worker processes that
 * each enqueue their share, and reads of the deliveries and attempt rows straight from the
 * database (the test process runs no dispatcher of its own).
 */
import { Effect } from "effect"
import pg from "pg"
import { receiver } from "../../support/receiver.js"

/** A receiver answering 204 to every call, counting calls (and the first call's time) per delivery id. */
export const countingReceiver = Effect.gen(function* () {
  const calls = new Map<string, number>()
  const hook = yield* receiver((r) => {
    const id = String(r.headers["webhook-id"])
    calls.set(id, (calls.get(id) ?? 0) + 1)
    return { status: 204 }
  })
  return { url: `${hook.url}/in`, calls }
})

/** Every notification to one webhook, with a short lease so a dead process's leases run out soon. */
export const loadSettings = (url: string, leaseMs: number) => ({
  sinks: { hook: { type: "webhook", url, allowPrivateNetwork: true } },
  routes: [{ sink: "hook", minPriority: "low" }],
  leaseMs,
  retry: { maxAttempts: 10, baseMs: 200, factor: 2, capMs: 2_000, maxRescues: 5 }
})

/** Runs `f` on a connection to `url`. */
export const withClient = <A>(url: string, f: (c: pg.Client) => Promise<A>) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return await f(client)
    } finally {
      await client.end()
    }
  })

/** Deliveries by status. */
export const statusCounts = (url: string) =>
  withClient(url, async (c) => {
    const { rows } = await c.query<{ status: string; n: string }>("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))
  })

/** Each delivery's status and attempt rows (outcome per attempt, in order). */
export const deliveriesWithAttempts = (url: string) =>
  withClient(url, async (c) => {
    const { rows } = await c.query<{ id: string; status: string; outcomes: Array<string> | null }>(
      `SELECT d.id, d.status, array_agg(a.outcome ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL) AS outcomes
       FROM deliveries d LEFT JOIN delivery_attempts a ON a.delivery_id = d.id GROUP BY d.id, d.status`
    )
    return rows.map((r) => ({ id: r.id, status: r.status, outcomes: r.outcomes ?? [] }))
  })
