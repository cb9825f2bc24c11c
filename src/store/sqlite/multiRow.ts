/**
 * Multi-row statements on the writer's connection: one prepared statement run per
 * `rowsPerStatement` rows instead of one per row (better-sqlite3's binding and SQLite's
 * statement setup cost about as much as a small row; measured: bulk enqueue +20%).
 */
import type { Statement } from "better-sqlite3"

export const rowsPerStatement = 32

/** `VALUES (?, ...), ...`: `rows` rows of `width` parameters. */
export const valuesSql = (width: number, rows: number) => {
  const row = `(${Array.from({ length: width }, () => "?").join(", ")})`
  return `VALUES ${Array.from({ length: rows }, () => row).join(", ")}`
}

/** `INSERT INTO ... (cols) VALUES (?, ...), ... <tail>` for `rows` rows of `width` values. */
export const insertSql = (head: string, width: number, rows: number, tail = "") => `${head} ${valuesSql(width, rows)} ${tail}`

/** Inserts every row, `rowsPerStatement` to a statement and the rest one by one; `push` appends a row's values. */
export const insertAll = <R>(
  prepare: (sql: string) => Statement,
  sqlFor: (rows: number) => string,
  rows: ReadonlyArray<R>,
  push: (params: Array<unknown>, row: R) => void
) => {
  const params: Array<unknown> = []
  let i = 0
  if (rows.length >= rowsPerStatement) {
    const many = prepare(sqlFor(rowsPerStatement))
    for (; i + rowsPerStatement <= rows.length; i += rowsPerStatement) {
      params.length = 0
      for (let j = i; j < i + rowsPerStatement; j++) push(params, rows[j]!)
      many.run(params)
    }
  }
  if (i < rows.length) {
    const one = prepare(sqlFor(1))
    for (; i < rows.length; i++) {
      params.length = 0
      push(params, rows[i]!)
      one.run(params)
    }
  }
}
