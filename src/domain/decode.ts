/** Decoding at the edges: a Schema failure becomes InvalidInput with one issue per field path. */
import { Effect, ParseResult, Schema } from "effect"
import { InvalidInput } from "./errors.js"
import { type Issue, tidyIssues } from "./issues.js"
import { maxInputDepth, valueExceeds } from "./nesting.js"

export const issuesOf = (error: ParseResult.ParseError) => tidyIssues(ParseResult.ArrayFormatter.formatErrorSync(error))

/** The issue of an input nested deeper than `maxInputDepth`, at its top-level key; undefined when it is not. */
const tooDeep = (input: unknown): Issue | undefined => {
  const path = valueExceeds(input, maxInputDepth)
  return path === undefined ? undefined : { path, message: `nests deeper than ${maxInputDepth} levels of arrays and objects` }
}

export const decodeInput = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "error" })
  return (input: unknown): Effect.Effect<A, InvalidInput> => {
    // Before the Schema: its message for a bad value prints the value, recursively.
    const deep = tooDeep(input)
    if (deep !== undefined) return Effect.fail(new InvalidInput({ what, issues: [deep] }))
    return decode(input).pipe(Effect.mapError((e) => new InvalidInput({ what, issues: issuesOf(e) })))
  }
}
