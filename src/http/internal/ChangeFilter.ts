/**
 * What one change-feed reader asked for: some entities (`?entity=`), one project's or one
 * session's changes (`?project=`, `?session=`: the ids session, pull request, check and
 * notification changes carry in their payload). A Resync passes every filter.
 */
import type { ChangeEvent } from "../../domain/ChangeEvent.js"

export interface ChangeFilterInput {
  readonly entities?: ReadonlySet<string> | undefined
  readonly project?: string | undefined
  readonly session?: string | undefined
}

export class ChangeFilter {
  constructor(private readonly input: ChangeFilterInput) {}

  /** A filter that passes everything is no filter: undefined. */
  static of(input: ChangeFilterInput): ChangeFilter | undefined {
    return input.entities === undefined && input.project === undefined && input.session === undefined ? undefined : new ChangeFilter(input)
  }

  accepts(e: ChangeEvent): boolean {
    const { entities, project, session } = this.input
    if (entities !== undefined && !entities.has(e.entity)) return false
    if (project === undefined && session === undefined) return true
    const p = e.payload as { projectId?: unknown; sessionId?: unknown } | null
    if (project !== undefined && p?.projectId !== project) return false
    if (session !== undefined && p?.sessionId !== session) return false
    return true
  }
}
