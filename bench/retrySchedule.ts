/**
 * The cost of reading a failed attempt's delay from its sink's retry Schedule (stepped n times
 * from a fresh start with a Random seeded by the delivery), against today's closed-form
 * backoff. Failures can come by the thousand a second; successes never step a Schedule.
 */
import { Effect, Schedule } from "effect"
import { SinkFailure } from "../src/domain/Sink.js"
import { backoffMs } from "../src/machines/delivery.js"
import { delayOfAttempt, retrySchedule, settingsDelayOf } from "../src/runtime/RetrySchedules.js"

const failure = new SinkFailure({ retryable: true, code: "http_503", message: "unavailable" })
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

/** Delays read per second, `n` reads of attempt `attempt`, inside one fiber as the dispatcher does. */
const readsPerSecond = (schedule: Parameters<typeof delayOfAttempt>[0], attempt: number, n: number) =>
  Effect.runSync(Effect.gen(function* () {
    const started = performance.now()
    for (let i = 0; i < n; i++) yield* delayOfAttempt(schedule, attempt, failure, `dlv_${i}`)
    return n / ((performance.now() - started) / 1000)
  }))

export const runRetryScheduleBench = (): { lines: Array<string> } => {
  const retry = { maxAttempts: 1_000, baseMs: 10_000, factor: 2, capMs: 3_600_000 }
  const compiled = retrySchedule(retry)
  const embedder = Schedule.exponential("1 second").pipe(Schedule.jittered, Schedule.compose(Schedule.recurs(999)))
  const n = 50_000
  let sink = 0
  const started = performance.now()
  for (let i = 0; i < n; i++) sink += backoffMs(retry, 5, (i % 1_000) / 1_000)
  const closedForm = n / ((performance.now() - started) / 1000)
  readsPerSecond(compiled, 5, 5_000) // warm-up
  const lines = [`retry delay of a failed attempt (before Schedules, backoffMs with a drawn jitter: ${fmt(closedForm)}/s):`]
  for (const attempt of [1, 5, 20, 100]) {
    const k = attempt >= 100 ? n / 10 : n
    const t = performance.now()
    for (let i = 0; i < n; i++) sink += settingsDelayOf(retry, attempt, `dlv_${i}`) ?? 0
    const closed = n / ((performance.now() - t) / 1000)
    lines.push(`  settings' Schedule, attempt ${attempt}: stepped ${fmt(readsPerSecond(compiled, attempt, k))} reads/s, closed form (what the runtime reads) ${fmt(closed)} reads/s`)
  }
  lines.push(`  embedder's Schedule (exponential, jittered, recurs), attempt 5: ${fmt(readsPerSecond(embedder, 5, n))} reads/s`)
  lines.push(`  (checksum ${sink % 7})`)
  return { lines }
}

if (process.argv[1]?.endsWith("retrySchedule.js")) {
  for (const line of runRetryScheduleBench().lines) console.log(line)
}
