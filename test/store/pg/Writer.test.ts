/** The Writer contract on PostgreSQL. */
import { describe } from "@effect/vitest"
import { writerContract } from "../contract/Writer.js"
import { pgStorage } from "../contract/engines.js"

describe("Writer on PostgreSQL", () => {
  writerContract(pgStorage)
})
