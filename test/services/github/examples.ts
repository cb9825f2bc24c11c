/**
 * The example webhook bodies of @octokit/webhooks-examples (api.github.com and every GitHub
 * Enterprise Server set), by event name, for the GitHub intake's tests.
 */
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)

interface Definition { readonly name: string; readonly examples: ReadonlyArray<unknown> }

const sets = ["api.github.com", "ghes-31", "ghes-32", "ghes-33", "ghes-34", "ghes-35"] as const

const definitions = sets.map((set) => ({
  set,
  definitions: require(`@octokit/webhooks-examples/${set}/index.json`) as ReadonlyArray<Definition>
}))

export interface Example {
  /** `set/event#index`, to name a failing example. */
  readonly label: string
  readonly payload: any
}

/** Every example of `eventName` in every set, as a fresh copy a test may change. */
export const examplesOf = (eventName: string): ReadonlyArray<Example> =>
  definitions.flatMap(({ set, definitions }) =>
    (definitions.find((d) => d.name === eventName)?.examples ?? []).map((payload, i) => ({
      label: `${set}/${eventName}#${i}`,
      payload: structuredClone(payload)
    })))

/** The first api.github.com example of `eventName` that `pick` accepts, as a fresh copy. */
export const exampleOf = (eventName: string, pick: (payload: any) => boolean = () => true): any => {
  const found = examplesOf(eventName).find((e) => e.label.startsWith("api.github.com/") && pick(e.payload))
  if (found === undefined) throw new Error(`no api.github.com example of ${eventName} matches`)
  return found.payload
}
