/** Runs a synchronous loop of prepared statements on the writer's connection as an Effect. */
import { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

export const rawWrite = <A>(what: string, loop: () => A): Effect.Effect<A, SqlError> =>
  Effect.try({ try: loop, catch: (cause) => new SqlError({ cause, message: `Failed to ${what}` }) })
