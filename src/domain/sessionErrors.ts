/** The sessions API's expected failures (projects, sessions, their pull requests), each with the facts a caller needs. */
import { Schema } from "effect"

export class ProjectNotFound extends Schema.TaggedError<ProjectNotFound>()("ProjectNotFound", {
  projectId: Schema.String
}) {
  override get message() {
    return `no project with id ${this.projectId}: create it first with POST /v1/projects`
  }
}

export class ProjectExists extends Schema.TaggedError<ProjectExists>()("ProjectExists", {
  projectId: Schema.String
}) {
  override get message() {
    return `a project with id ${this.projectId} exists already (archived projects keep their id)`
  }
}

export class ProjectArchived extends Schema.TaggedError<ProjectArchived>()("ProjectArchived", {
  projectId: Schema.String
}) {
  override get message() {
    return `project ${this.projectId} is archived: it takes no new sessions`
  }
}

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  sessionId: Schema.String
}) {
  override get message() {
    return `no session with id ${this.sessionId}`
  }
}

/** A PR observation for a URL another session owns: a PR belongs to one session. */
export class PullRequestOwned extends Schema.TaggedError<PullRequestOwned>()("PullRequestOwned", {
  url: Schema.String,
  sessionId: Schema.String,
  ownerId: Schema.String
}) {
  override get message() {
    return `url: pull request ${this.url} belongs to session ${this.ownerId}, not ${this.sessionId}`
  }
}
