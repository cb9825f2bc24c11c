-- Coding-agent sessions: projects, sessions (the session machine's persisted snapshot and its
-- derived state, src/machines/session.ts), their pull requests with CI history and review
-- comments, and the reaction budgets that keep a restart from repeating a page or a message.
-- Sessions, pull requests and checks write change_log rows in the same transaction, on UPDATE
-- only when a watched column changed; those rows carry the project and session ids (columns
-- and payload) so the feed can be filtered by them.
-- Forward-only: once landed this file is never edited.

CREATE TABLE projects (
  id            TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  repo_path     TEXT,
  origin_url    TEXT,
  -- The n of the next session id `{id}-{n}`: taken and moved in one UPDATE ... RETURNING.
  next_session  INTEGER NOT NULL DEFAULT 1 CHECK (next_session >= 1),
  created_at    INTEGER NOT NULL,
  -- Soft delete: listing shows active projects; a lookup by id still finds an archived one.
  archived_at   INTEGER
) WITHOUT ROWID;

CREATE TABLE sessions (
  id                  TEXT    PRIMARY KEY,
  project_id          TEXT    NOT NULL REFERENCES projects (id),
  n                   INTEGER NOT NULL CHECK (n >= 1),
  state               TEXT    NOT NULL CHECK (state IN ('spawning', 'working', 'pr_open', 'ci_running', 'ci_failed',
                        'fixing', 'review_pending', 'changes_requested', 'approved', 'mergeable', 'merged', 'killed', 'died')),
  -- The machine's state value and context, as JSON: the actor is materialised from it per event.
  snapshot            TEXT    NOT NULL CHECK (json_valid(snapshot)),
  is_alive            INTEGER NOT NULL CHECK (is_alive IN (0, 1)),
  termination_reason  TEXT    CHECK (termination_reason IN ('pr_merged', 'killed', 'runtime_gone', 'agent_exited')),
  termination_detail  TEXT,
  agent               TEXT,
  branch              TEXT,
  workspace_path      TEXT,
  agent_endpoint      TEXT,
  -- How the reaper probes the agent's runtime: {"kind": "pid", "pid": 123} or {"kind": "http", "url": "..."}.
  runtime             TEXT    CHECK (runtime IS NULL OR json_valid(runtime)),
  version             INTEGER NOT NULL,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  ended_at            INTEGER,
  UNIQUE (project_id, n),
  CHECK (id = project_id || '-' || n)
) WITHOUT ROWID;

CREATE INDEX sessions_by_project ON sessions (project_id, state);
-- The reaper's scan: live sessions only.
CREATE INDEX sessions_alive ON sessions (id) WHERE is_alive = 1;
-- A webhook for a PR not seen yet finds its session by head branch.
CREATE INDEX sessions_branch ON sessions (branch) WHERE branch IS NOT NULL;

CREATE TABLE pull_requests (
  url              TEXT    PRIMARY KEY,
  session_id       TEXT    NOT NULL REFERENCES sessions (id),
  project_id       TEXT    NOT NULL,
  number           INTEGER NOT NULL CHECK (number > 0),
  state            TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
  review_decision  TEXT    CHECK (review_decision IN ('review_required', 'approved', 'changes_requested')),
  mergeability     TEXT    CHECK (mergeability IN ('mergeable', 'conflicting', 'unknown')),
  ci_state         TEXT    NOT NULL CHECK (ci_state IN ('pending', 'running', 'passed', 'failed')),
  head_sha         TEXT    NOT NULL,
  head_branch      TEXT,
  -- Head commits with failed CI since the last green run (the CI-fix loop's streak).
  failed_runs      INTEGER NOT NULL DEFAULT 0 CHECK (failed_runs >= 0),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX pull_requests_session ON pull_requests (session_id);

-- CI history: one row per check per head commit. A re-poll that changes nothing writes nothing.
CREATE TABLE pr_checks (
  pr_url       TEXT    NOT NULL REFERENCES pull_requests (url),
  head_sha     TEXT    NOT NULL,
  name         TEXT    NOT NULL,
  session_id   TEXT    NOT NULL,
  project_id   TEXT    NOT NULL,
  status       TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
  conclusion   TEXT    CHECK (conclusion IN ('success', 'failure', 'cancelled', 'skipped', 'timed_out', 'neutral', 'action_required')),
  details_url  TEXT,
  failed_step  TEXT,
  log_excerpt  TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (pr_url, head_sha, name),
  CHECK ((status = 'completed') = (conclusion IS NOT NULL))
) WITHOUT ROWID;

-- Review comments, each forwarded to the agent once.
CREATE TABLE pr_comments (
  pr_url        TEXT    NOT NULL REFERENCES pull_requests (url),
  id            TEXT    NOT NULL,
  session_id    TEXT    NOT NULL,
  author        TEXT    NOT NULL,
  body          TEXT    NOT NULL,
  path          TEXT,
  line          INTEGER,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (pr_url, id)
) WITHOUT ROWID;

-- Reactions spent per session and key (a kind of reaction, and what it was about): written in
-- the transaction that enqueues the reaction's notification, so a restart neither repeats nor
-- loses one.
CREATE TABLE reaction_budgets (
  session_id       TEXT    NOT NULL REFERENCES sessions (id),
  key              TEXT    NOT NULL,
  spent            INTEGER NOT NULL CHECK (spent >= 0),
  last_notification_id TEXT,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (session_id, key)
) WITHOUT ROWID;

ALTER TABLE change_log ADD COLUMN project_id TEXT;
ALTER TABLE change_log ADD COLUMN session_id TEXT;
CREATE INDEX change_log_by_session ON change_log (session_id, seq) WHERE session_id IS NOT NULL;
CREATE INDEX change_log_by_project ON change_log (project_id, seq) WHERE project_id IS NOT NULL;

CREATE TRIGGER sessions_change_insert AFTER INSERT ON sessions
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('session', NEW.id, 'created',
          json_object('projectId', NEW.project_id, 'sessionId', NEW.id, 'state', NEW.state,
                      'isAlive', json(CASE NEW.is_alive WHEN 1 THEN 'true' ELSE 'false' END),
                      'agent', NEW.agent, 'branch', NEW.branch),
          NEW.created_at, NEW.project_id, NEW.id);
END;

CREATE TRIGGER sessions_change_update AFTER UPDATE ON sessions
WHEN OLD.state IS NOT NEW.state OR OLD.is_alive IS NOT NEW.is_alive OR OLD.termination_reason IS NOT NEW.termination_reason
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('session', NEW.id, CASE WHEN OLD.state IS NOT NEW.state THEN NEW.state ELSE 'updated' END,
          json_object('projectId', NEW.project_id, 'sessionId', NEW.id, 'from', OLD.state, 'state', NEW.state,
                      'isAlive', json(CASE NEW.is_alive WHEN 1 THEN 'true' ELSE 'false' END),
                      'terminationReason', NEW.termination_reason),
          NEW.updated_at, NEW.project_id, NEW.id);
END;

CREATE TRIGGER pull_requests_change_insert AFTER INSERT ON pull_requests
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('pull_request', NEW.url, 'created',
          json_object('projectId', NEW.project_id, 'sessionId', NEW.session_id, 'number', NEW.number,
                      'state', NEW.state, 'reviewDecision', NEW.review_decision, 'mergeability', NEW.mergeability,
                      'ciState', NEW.ci_state, 'headSha', NEW.head_sha),
          NEW.created_at, NEW.project_id, NEW.session_id);
END;

CREATE TRIGGER pull_requests_change_update AFTER UPDATE ON pull_requests
WHEN OLD.state IS NOT NEW.state OR OLD.review_decision IS NOT NEW.review_decision
  OR OLD.mergeability IS NOT NEW.mergeability OR OLD.ci_state IS NOT NEW.ci_state OR OLD.head_sha IS NOT NEW.head_sha
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('pull_request', NEW.url, 'updated',
          json_object('projectId', NEW.project_id, 'sessionId', NEW.session_id, 'number', NEW.number,
                      'state', NEW.state, 'reviewDecision', NEW.review_decision, 'mergeability', NEW.mergeability,
                      'ciState', NEW.ci_state, 'headSha', NEW.head_sha, 'failedRuns', NEW.failed_runs),
          NEW.updated_at, NEW.project_id, NEW.session_id);
END;

CREATE TRIGGER pr_checks_change_insert AFTER INSERT ON pr_checks
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('check', NEW.pr_url || '@' || NEW.head_sha || '#' || NEW.name, coalesce(NEW.conclusion, NEW.status),
          json_object('projectId', NEW.project_id, 'sessionId', NEW.session_id, 'prUrl', NEW.pr_url,
                      'headSha', NEW.head_sha, 'name', NEW.name, 'status', NEW.status, 'conclusion', NEW.conclusion),
          NEW.updated_at, NEW.project_id, NEW.session_id);
END;

CREATE TRIGGER pr_checks_change_update AFTER UPDATE ON pr_checks
WHEN OLD.status IS NOT NEW.status OR OLD.conclusion IS NOT NEW.conclusion
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('check', NEW.pr_url || '@' || NEW.head_sha || '#' || NEW.name, coalesce(NEW.conclusion, NEW.status),
          json_object('projectId', NEW.project_id, 'sessionId', NEW.session_id, 'prUrl', NEW.pr_url,
                      'headSha', NEW.head_sha, 'name', NEW.name, 'from', coalesce(OLD.conclusion, OLD.status),
                      'status', NEW.status, 'conclusion', NEW.conclusion),
          NEW.updated_at, NEW.project_id, NEW.session_id);
END;

-- GitHub webhook deliveries taken in (POST /v1/integrations/github): deduped on
-- X-GitHub-Delivery, and what came of each (applied to a session, or ignored with the reason),
-- so an event no session owns is visible in the feed instead of an error GitHub retries.
CREATE TABLE github_deliveries (
  delivery_id  TEXT    PRIMARY KEY,
  event        TEXT    NOT NULL,
  action       TEXT,
  outcome      TEXT    NOT NULL CHECK (outcome IN ('applied', 'ignored')),
  reason       TEXT,
  session_id   TEXT,
  project_id   TEXT,
  received_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER github_deliveries_change_insert AFTER INSERT ON github_deliveries
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('github_delivery', NEW.delivery_id, NEW.outcome,
          json_object('event', NEW.event, 'action', NEW.action, 'reason', NEW.reason,
                      'projectId', NEW.project_id, 'sessionId', NEW.session_id),
          NEW.received_at, NEW.project_id, NEW.session_id);
END;
