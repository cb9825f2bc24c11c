/**
 * @effect/sql keys every client's open transaction under one tag, SqlClient.TransactionConnection.
 * Inside a transaction of another client (an embedder's own database), Herald's statements
 * would run on that client's connection: these hide such a transaction from them.
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, Option } from "effect"

/** `effect` without a transaction that `owns` does not recognise as Herald's writer's. */
export const hideForeignTransaction = (owns: (transactionConnection: unknown) => boolean) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) =>
      Option.isSome(outer) && !owns(outer.value)
        ? Effect.mapInputContext(effect, (ctx: Context.Context<R>) => Context.omit(SqlClient.TransactionConnection)(ctx) as Context.Context<R>)
        : effect)
