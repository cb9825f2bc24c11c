/**
 * HERALD_* variables read with Effect Config, each checked against its rule in words: a bad value
 * fails as `HERALD_X must be <rule> (got <what it was>)`, the one line the daemon stops with.
 * Which variables exist and their defaults are Config.ts's and HttpOptions.ts's.
 */
import { Config, ConfigError, Either } from "effect"

/** Text checked by `parse` (the value, or undefined when the rule is broken); `got` says what was found without echoing a secret. */
export const envVar = <A>(
  name: string,
  mustBe: string,
  parse: (raw: string) => A | undefined,
  got: (raw: string) => string = (raw) => JSON.stringify(raw)
): Config.Config<A> =>
  Config.string(name).pipe(Config.mapOrFail((raw) => {
    const value = parse(raw)
    return value === undefined ? Either.left(ConfigError.InvalidData([], `must be ${mustBe} (got ${got(raw)})`)) : Either.right(value)
  }))

// Plain decimals only: Number() would also take "0x10", "1e3" and " " (as 0).
const decimal = /^\d+(\.\d+)?$/
const whole = /^\d+$/

/** A non-negative decimal number that satisfies `ok`. */
export const numberVar = (name: string, mustBe: string, ok: (n: number) => boolean) =>
  envVar(name, mustBe, (raw) => (decimal.test(raw) && ok(Number(raw)) ? Number(raw) : undefined))

/** A non-negative whole number that satisfies `ok`. */
export const integerVar = (name: string, mustBe: string, ok: (n: number) => boolean) =>
  envVar(name, mustBe, (raw) => (whole.test(raw) && Number.isSafeInteger(Number(raw)) && ok(Number(raw)) ? Number(raw) : undefined))

/** One of `literals`, spelled exactly. */
export const literalVar = <const L extends string>(name: string, literals: ReadonlyArray<L>) =>
  envVar(name, literals.join(" or "), (raw) => literals.find((l) => l === raw))

/** Any text but the empty string (an empty variable is usually a mistake in an env file, not a choice). */
export const textVar = (name: string, mustBe: string) => envVar(name, mustBe, (raw) => (raw === "" ? undefined : raw))

const leaves = (e: ConfigError.ConfigError): ReadonlyArray<string> => {
  switch (e._op) {
    case "And":
    case "Or":
      return [...leaves(e.left), ...leaves(e.right)]
    default:
      return [e.path.length > 0 ? `${e.path.join(".")} ${e.message}` : e.message]
  }
}

/** A ConfigError as one line: each broken rule as `HERALD_X must be ...`, several joined by "; ". */
export const describeConfigError = (e: ConfigError.ConfigError): string => [...new Set(leaves(e))].join("; ")
