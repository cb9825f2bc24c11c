/** The read-only SQL client: API, feed and inspector reads that must never wait for the writer. */
import type { SqlClient } from "@effect/sql"
import { Context } from "effect"

export class ReadSql extends Context.Tag("herald/ReadSql")<ReadSql, SqlClient.SqlClient>() {}
