/** The Writer contract on SQLite. */
import { describe } from "@effect/vitest"
import { writerContract } from "./contract/Writer.js"
import { sqliteStorage } from "./contract/engines.js"

describe("Writer on SQLite", () => {
  writerContract(sqliteStorage)
})
