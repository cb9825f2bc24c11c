/**
 * The dispatcher's memory of what holds each push sink's due deliveries back: its circuit
 * (as the last claim read it, or an outcome just moved it) and its rate limit. A delivery
 * claimed later than it was due records why on its attempt (`heldBy`): it was due when the
 * sink was last held, so the hold, not its due time, is why it waited.
 */
import type { HeldBy } from "../../domain/Delivery.js"
import type { CircuitStatus } from "../../machines/circuit.js"
import type { Admissions } from "../Circuits.js"

export const makeSinkHolds = () => {
  /** Sinks whose circuit is not closed: `probe` (one delivery may go) or `hold` (none). */
  let circuits = new Map<string, "probe" | "hold">()
  let probeAt = Infinity
  const lastHeld = new Map<string, { readonly at: number; readonly by: HeldBy }>()
  return {
    /** What the claim just read from the circuits table. */
    sync: (a: Admissions) => {
      circuits = new Map(a.held)
      probeAt = a.nextProbeAt
    },
    /** An outcome moved the sink's circuit: true when it closed after holding (held deliveries may go now). */
    moved: (sink: string, status: CircuitStatus): boolean => {
      const was = circuits.has(sink)
      if (status === "closed") circuits.delete(sink)
      else circuits.set(sink, "hold")
      return was && status === "closed"
    },
    /** The probe was taken: nothing more goes until its outcome. */
    probeTaken: (sink: string) => void circuits.set(sink, "hold"),
    gateOf: (sink: string) => circuits.get(sink),
    /** Whether any circuit was not closed when last seen. */
    anyHeld: () => circuits.size > 0,
    /** Whether the sink's circuit lets nothing through now (a hand-off must not go to it either). */
    isHeld: (sink: string) => circuits.has(sink),
    /** The earliest end of an open circuit's cooldown, when the claim loop must wake for a probe. */
    probeAt: () => probeAt,
    /** At `now` the sink had due deliveries it could not take (or may have): they were held by `by`. */
    note: (sink: string, by: HeldBy, now: number) => void lastHeld.set(sink, { at: now, by }),
    /** Why a delivery due at `dueAt` waited past it, if it did. */
    heldByOf: (sink: string, dueAt: number): HeldBy | null => {
      const h = lastHeld.get(sink)
      return h !== undefined && dueAt <= h.at ? h.by : null
    }
  }
}
