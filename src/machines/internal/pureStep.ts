/**
 * Pure stepping of an XState machine without XState's per-call actor construction.
 * `transition()` builds a throw-away actor and system on every call (~10 µs); a machine
 * with no children, spawns or delayed events can reuse one inert scope, since the
 * runtime never executes actions through it: they are only collected and returned.
 */
import { createActor, type AnyStateMachine, type EventFromLogic, type SnapshotFrom } from "xstate"

export interface ExecutedAction {
  readonly type: string
  readonly params: unknown
}

export const makePureStep = <M extends AnyStateMachine>(machine: M, input: unknown) => {
  const self = createActor(machine as AnyStateMachine, { input } as never)
  let collected: Array<ExecutedAction> = []
  const scope = {
    self,
    id: "",
    sessionId: "",
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    system: self.system,
    actionExecutor: (action: { type: string; params: unknown }) => {
      collected.push({ type: action.type, params: action.params })
    }
  }
  return (snapshot: SnapshotFrom<M>, event: EventFromLogic<M>): readonly [SnapshotFrom<M>, ReadonlyArray<ExecutedAction>] => {
    collected = []
    const next = machine.transition(snapshot, event, scope as never) as SnapshotFrom<M>
    return [next, collected.filter((a) => !a.type.startsWith("xstate."))]
  }
}
