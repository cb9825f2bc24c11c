/** Storage errors as the rest of Herald sees them: @effect/sql's engine-neutral SqlError, named here so nothing outside src/store imports @effect/sql. */
export type { SqlError } from "@effect/sql/SqlError"
