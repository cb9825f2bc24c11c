/**
 * /healthz latency while another process holds SQLite's write lock (the sqlite3 shell, a backup
 * tool) for 10 s under 20 concurrent enqueuers, against the same load with no lock held,
 * measured in the same run on the same daemon. Aim: p99 under 100 ms with the lock held.
 */
import Database from "better-sqlite3"
import { startBenchDaemon } from "./daemon.js"

const token = "bench-token-0123456789abcdef"

const percentile = (xs: ReadonlyArray<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0

/** Runs 20 enqueuers and a /healthz probe (one request every 20 ms) for `ms`; returns the probe's latencies. */
const underLoad = async (url: string, ms: number) => {
  const until = performance.now() + ms
  const enqueuer = async (i: number) => {
    for (let n = 0; performance.now() < until; n++) {
      await fetch(`${url}/v1/notifications`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ kind: "bench", title: `lock ${i} ${n}` }),
        signal: AbortSignal.timeout(2_000)
      }).then((r) => r.text(), () => "")
    }
  }
  const latencies: Array<number> = []
  const probe = async () => {
    while (performance.now() < until) {
      const started = performance.now()
      await fetch(`${url}/healthz`).then((r) => r.text())
      latencies.push(performance.now() - started)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  await Promise.all([probe(), ...Array.from({ length: 20 }, (_, i) => enqueuer(i))])
  return latencies
}

export const runOutsideLockBench = async (): Promise<{ lines: Array<string> }> => {
  const daemon = await startBenchDaemon(token, "herald-bench-lock-")
  try {
    const free = await underLoad(daemon.url, 5_000)
    const other = new Database(daemon.database)
    other.exec("BEGIN IMMEDIATE")
    const locked = await underLoad(daemon.url, 10_000).finally(() => {
      other.exec("COMMIT")
      other.close()
    })
    const ms = (n: number) => `${n.toFixed(1)} ms`
    const p99Free = percentile(free, 0.99)
    const p99Locked = percentile(locked, 0.99)
    return {
      lines: [
        "/healthz under 20 concurrent enqueuers, while an outside process holds the write lock for 10 s (aim: p99 under 100 ms):",
        `  no lock: p50 ${ms(percentile(free, 0.5))}, p99 ${ms(p99Free)}, max ${ms(Math.max(...free))} (${free.length} probes)`,
        `  lock held: p50 ${ms(percentile(locked, 0.5))}, p99 ${ms(p99Locked)}, max ${ms(Math.max(...locked))} (${locked.length} probes)`,
        `  ratio p99 lock held/no lock: ${(p99Locked / Math.max(p99Free, 0.001)).toFixed(2)}`
      ]
    }
  } finally {
    await daemon.stop()
  }
}
