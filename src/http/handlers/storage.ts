/** Small shared pieces of the handlers: storage failures (SqlError) become defects the edge answers 503; query filters drop absent keys. */
import { Effect } from "effect"

type WithoutSql<E> = Exclude<E, { readonly _tag: "SqlError" }>

export const storageAsDefect = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, WithoutSql<E>, R> =>
  Effect.catchIf(effect, (e): e is Extract<E, { readonly _tag: "SqlError" }> => (e as { _tag?: unknown })._tag === "SqlError", Effect.die) as Effect.Effect<A, WithoutSql<E>, R>

/** The object without its undefined entries (Herald's filters decode strictly). */
export const defined = <T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> }
