/** Decoding at the edges: a Schema failure becomes InvalidInput with one issue per field path. */
import { Effect, ParseResult, Schema } from "effect"
import { InvalidInput } from "./errors.js"
import { tidyIssues } from "./issues.js"

export const issuesOf = (error: ParseResult.ParseError) => tidyIssues(ParseResult.ArrayFormatter.formatErrorSync(error))

export const decodeInput = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "error" })
  return (input: unknown): Effect.Effect<A, InvalidInput> =>
    decode(input).pipe(Effect.mapError((e) => new InvalidInput({ what, issues: issuesOf(e) })))
}
