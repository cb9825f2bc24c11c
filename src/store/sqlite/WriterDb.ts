/**
 * The writer's better-sqlite3 connection itself, for the hot batch loops (one prepared
 * statement run per row). Use it only inside `Writer.transaction`: that holds the
 * connection, so these rows join the transaction's other statements.
 */
import type Sqlite from "better-sqlite3"
import { Context } from "effect"

export interface WriterDbShape {
  readonly db: Sqlite.Database
  /** A cached prepared statement for this SQL text. */
  readonly prepare: (sql: string) => Sqlite.Statement
  /** Whether a SqlClient.TransactionConnection is this writer's (and not another @effect/sql client's). */
  readonly owns: (transactionConnection: unknown) => boolean
}

export class WriterDb extends Context.Tag("herald/WriterDb")<WriterDb, WriterDbShape>() {}
