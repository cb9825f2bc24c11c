/**
 * Herald on PostgreSQL with 1, 2 or 4 processes on one fresh database: each process enqueues
 * its share of `n` notifications (enqueueMany, 500 per call) and delivers to its own memory
 * sink that keeps nothing, so the figure is Herald's and PostgreSQL's work alone. Measured
 * from "go" to the database counting all `n` sent (stats(), read by this process, which runs
 * no dispatcher, once the workers' sink calls add up to `n`: stats() reads the delivery count
 * deltas, which grow with every status change, so polling it throughout would load the server
 * with the bench's own reads), with the CPU the Herald processes and the server used meanwhile.
 */
import { type ChildProcess, fork } from "node:child_process"
import { Duration, Effect } from "effect"
import pg from "pg"
import { Herald } from "../src/layers/Herald.js"
import { measureCpu } from "./cpu.js"
import type { BenchPostgres } from "./pgServer.js"
import { progressOf } from "./workerProgress.js"

export interface PgFigure {
  readonly perSecond: number
  /** Cores kept busy during the measurement: by the measured processes, the server, the machine. */
  readonly cpu: Record<string, number> | undefined
  /** Sink calls over all processes less `n`: repeats (at-least-once), 0 when none. */
  readonly repeats: number
  /** Deliveries leased by a claim (a scan) rather than at enqueue (the direct hand-off). */
  readonly claimed: number
}

/** Read once the run is over: every claim writes a `leased` change; a hand-off writes none. */
const claimedCount = async (url: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ n: number }>("SELECT count(*)::INT AS n FROM change_log WHERE entity = 'delivery' AND event = 'leased'")
    return rows[0]!.n
  } finally {
    await client.end()
  }
}

const nextMessage = <A>(child: ChildProcess, test: (m: unknown) => m is A) =>
  new Promise<A>((resolve, reject) => {
    const onMessage = (m: unknown) => {
      if (test(m)) {
        child.off("message", onMessage)
        child.off("exit", onExit)
        resolve(m)
      }
    }
    const onExit = (code: number | null) => reject(new Error(`bench worker ${child.pid} exited (${code}) early`))
    child.on("message", onMessage)
    child.once("exit", onExit)
  })

const is = (name: string) => (m: unknown): m is string => m === name
const isCalls = (m: unknown): m is { calls: number } => typeof m === "object" && m !== null && "calls" in m

/** Polls `done` every 100 ms until it is true; fails when `progress` has not moved for a minute. */
export const waitUntil = (done: () => Promise<boolean>, describe: () => string) =>
  new Promise<void>((resolve, reject) => {
    let last = ""
    let lastMoved = performance.now()
    const tick = async () => {
      try {
        if (await done()) return resolve()
        const now = describe()
        if (now !== last) (last = now), (lastMoved = performance.now())
        else if (performance.now() - lastMoved > 60_000) return reject(new Error(`bench stalled for a minute at ${now}`))
        setTimeout(tick, 100)
      } catch (e) {
        reject(e)
      }
    }
    void tick()
  })

export const heraldPgDeliveriesPerSecond = async (server: BenchPostgres, processes: number, n: number): Promise<PgFigure> => {
  const url = await server.freshDatabase("herald")
  const measure = Effect.gen(function* () {
    const herald = yield* Herald
    yield* herald.putSettings({ sinks: { mem: { type: "memory" } }, routes: [{ sink: "mem" }] })
    const share = Math.ceil(n / processes)
    const workers = Array.from({ length: processes }, (_, i) =>
      fork(new URL("./pgHeraldWorker.js", import.meta.url), [url, String(Math.min(share, n - i * share)), `p${i}`]))
    const sinkCalls = progressOf(workers)
    yield* Effect.promise(() => Promise.all(workers.map((w) => nextMessage(w, is("ready")))))
    const cpu = measureCpu(() => ({ pids: { herald: workers.map((w) => w.pid!), "this process": [process.pid] }, parents: { postgres: server.pid } }))
    const started = performance.now()
    for (const w of workers) w.send("go")
    let sent = 0
    const stats = () => Effect.runPromise(herald.stats())
    yield* Effect.promise(() =>
      waitUntil(
        async () => sinkCalls() >= n && ((sent = (await stats()).byStatus["sent"] ?? 0), sent >= n),
        () => `${sinkCalls()} sink calls and ${sent} sent of ${n}`
      ))
    const seconds = (performance.now() - started) / 1000
    const cores = cpu()
    const claimed = yield* Effect.promise(() => claimedCount(url))
    const calls = yield* Effect.promise(() =>
      Promise.all(workers.map((w) => {
        const reply = nextMessage(w, isCalls)
        w.send("stop")
        return reply
      })))
    yield* Effect.promise(() => Promise.all(workers.map((w) => (w.exitCode !== null ? undefined : new Promise((r) => w.once("exit", r))))))
    const total = calls.reduce((a, c) => a + c.calls, 0)
    return { perSecond: n / seconds, cpu: cores, repeats: total - n, claimed }
  })
  return Effect.runPromise(
    measure.pipe(
      Effect.timeout(Duration.minutes(5)),
      Effect.scoped,
      Effect.provide(Herald.layer({ database: url, runtime: { background: false } }))
    )
  )
}
