/**
 * CPU time of processes over a measurement, read from /proc (Linux; elsewhere it reports
 * nothing): how many cores the Herald or graphile-worker processes, the PostgreSQL server and
 * the whole machine kept busy, which says what limits scaling on a small machine.
 */
import * as fs from "node:fs"

/** Clock ticks per second of /proc's times: 100 on every Linux Node supports. */
const ticksPerSecond = 100

const readStat = (pid: number): { ppid: number; ticks: number } | undefined => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name, which is in parentheses and may hold spaces: state ppid ...
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) }
  } catch {
    return undefined
  }
}

const childrenOf = (ppid: number): Array<number> =>
  fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => readStat(pid)?.ppid === ppid)

/** Busy ticks of all CPUs (the first line of /proc/stat, less idle and iowait). */
const machineTicks = (): number => {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  return fields.slice(0, 8).reduce((a, b) => a + b, 0) - fields[3]! - fields[4]!
}

export interface CpuGroups {
  /** Processes whose own CPU time counts, by group name. */
  readonly pids: Readonly<Record<string, ReadonlyArray<number>>>
  /** Processes whose children's CPU time counts (a postmaster: its backends), by group name. */
  readonly parents: Readonly<Record<string, number>>
}

/** Starts measuring; the returned function ends it: the cores each group and the machine kept busy. */
export const measureCpu = (groups: () => CpuGroups): (() => Record<string, number> | undefined) => {
  if (!fs.existsSync("/proc/stat")) return () => undefined
  const snapshot = () => {
    const g = groups()
    const byGroup: Record<string, Map<number, number>> = {}
    const add = (name: string, pid: number) => {
      const s = readStat(pid)
      if (s !== undefined) (byGroup[name] ??= new Map()).set(pid, s.ticks)
    }
    for (const [name, pids] of Object.entries(g.pids)) for (const pid of pids) add(name, pid)
    for (const [name, ppid] of Object.entries(g.parents)) for (const pid of childrenOf(ppid)) add(name, pid)
    return { byGroup, machine: machineTicks(), at: performance.now() }
  }
  const start = snapshot()
  return () => {
    const end = snapshot()
    const seconds = (end.at - start.at) / 1000
    const cores: Record<string, number> = {}
    for (const [name, pids] of Object.entries(end.byGroup)) {
      let ticks = 0
      for (const [pid, t] of pids) ticks += t - (start.byGroup[name]?.get(pid) ?? 0)
      cores[name] = ticks / ticksPerSecond / seconds
    }
    cores["machine"] = (end.machine - start.machine) / ticksPerSecond / seconds
    return cores
  }
}
