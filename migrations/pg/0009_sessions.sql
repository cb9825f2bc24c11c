-- Coding-agent sessions: projects, sessions (the session machine's persisted snapshot and its
-- derived state, src/machines/session.ts), their pull requests with CI history and review
-- comments, the reaction budgets that keep a restart from repeating a page or a message, and
-- the GitHub webhook deliveries taken in. Sessions, pull requests, checks and GitHub deliveries
-- write change_log rows in the same transaction, on UPDATE only when a watched column changed;
-- those rows carry the project and session ids (columns and payload) for the feed's filters.
-- The same step as migrations/0009_sessions.sql for SQLite.
-- Forward-only: once landed this file is never edited.

CREATE TABLE projects (
  id            TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  repo_path     TEXT,
  origin_url    TEXT,
  -- The n of the next session id `{id}-{n}`: taken and moved in one UPDATE ... RETURNING.
  next_session  INTEGER NOT NULL DEFAULT 1 CHECK (next_session >= 1),
  created_at    BIGINT  NOT NULL,
  -- Soft delete: listing shows active projects; a lookup by id still finds an archived one.
  archived_at   BIGINT
);

CREATE TABLE sessions (
  id                  TEXT    PRIMARY KEY,
  project_id          TEXT    NOT NULL REFERENCES projects (id),
  n                   INTEGER NOT NULL CHECK (n >= 1),
  state               TEXT    NOT NULL CHECK (state IN ('spawning', 'working', 'pr_open', 'ci_running', 'ci_failed',
                        'fixing', 'review_pending', 'changes_requested', 'approved', 'mergeable', 'merged', 'killed', 'died')),
  -- The machine's state value and context, as JSON: the actor is materialised from it per event.
  snapshot            JSONB   NOT NULL,
  is_alive            BOOLEAN NOT NULL,
  termination_reason  TEXT    CHECK (termination_reason IN ('pr_merged', 'killed', 'runtime_gone', 'agent_exited')),
  termination_detail  TEXT,
  agent               TEXT,
  branch              TEXT,
  workspace_path      TEXT,
  agent_endpoint      TEXT,
  -- How the reaper probes the agent's runtime: {"kind": "pid", "pid": 123} or {"kind": "http", "url": "..."}.
  runtime             JSONB,
  version             INTEGER NOT NULL,
  created_at          BIGINT  NOT NULL,
  updated_at          BIGINT  NOT NULL,
  ended_at            BIGINT,
  UNIQUE (project_id, n),
  CHECK (id = project_id || '-' || n)
);

CREATE INDEX sessions_by_project ON sessions (project_id, state);
-- The reaper's scan: live sessions only.
CREATE INDEX sessions_alive ON sessions (id) WHERE is_alive;
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
  created_at       BIGINT  NOT NULL,
  updated_at       BIGINT  NOT NULL
);

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
  created_at   BIGINT  NOT NULL,
  updated_at   BIGINT  NOT NULL,
  PRIMARY KEY (pr_url, head_sha, name),
  CHECK ((status = 'completed') = (conclusion IS NOT NULL))
);

-- Review comments, each forwarded to the agent once.
CREATE TABLE pr_comments (
  pr_url        TEXT    NOT NULL REFERENCES pull_requests (url),
  id            TEXT    NOT NULL,
  session_id    TEXT    NOT NULL,
  author        TEXT    NOT NULL,
  body          TEXT    NOT NULL,
  path          TEXT,
  line          INTEGER,
  created_at    BIGINT  NOT NULL,
  PRIMARY KEY (pr_url, id)
);

-- Reactions spent per session and key (a kind of reaction, and what it was about): written in
-- the transaction that enqueues the reaction's notification, so a restart neither repeats nor
-- loses one.
CREATE TABLE reaction_budgets (
  session_id       TEXT    NOT NULL REFERENCES sessions (id),
  key              TEXT    NOT NULL,
  spent            INTEGER NOT NULL CHECK (spent >= 0),
  last_notification_id TEXT,
  updated_at       BIGINT  NOT NULL,
  PRIMARY KEY (session_id, key)
);

ALTER TABLE change_log ADD COLUMN project_id TEXT;
ALTER TABLE change_log ADD COLUMN session_id TEXT;
CREATE INDEX change_log_by_session ON change_log (session_id, seq) WHERE session_id IS NOT NULL;
CREATE INDEX change_log_by_project ON change_log (project_id, seq) WHERE project_id IS NOT NULL;

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
  received_at  BIGINT  NOT NULL
);


CREATE FUNCTION sessions_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('session', NEW.id,
          CASE WHEN TG_OP = 'INSERT' THEN 'created' WHEN OLD.state IS DISTINCT FROM NEW.state THEN NEW.state ELSE 'updated' END,
          CASE WHEN TG_OP = 'INSERT'
            THEN jsonb_build_object('projectId', NEW.project_id, 'sessionId', NEW.id, 'state', NEW.state,
                                    'isAlive', NEW.is_alive, 'agent', NEW.agent, 'branch', NEW.branch)
            ELSE jsonb_build_object('projectId', NEW.project_id, 'sessionId', NEW.id, 'from', OLD.state, 'state', NEW.state,
                                    'isAlive', NEW.is_alive, 'terminationReason', NEW.termination_reason) END,
          CASE WHEN TG_OP = 'INSERT' THEN NEW.created_at ELSE NEW.updated_at END, NEW.project_id, NEW.id);
  RETURN NULL;
END
$$;

CREATE TRIGGER sessions_change_insert AFTER INSERT ON sessions
  FOR EACH ROW EXECUTE FUNCTION sessions_change();

CREATE TRIGGER sessions_change_update AFTER UPDATE ON sessions
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.is_alive IS DISTINCT FROM NEW.is_alive
                     OR OLD.termination_reason IS DISTINCT FROM NEW.termination_reason)
  EXECUTE FUNCTION sessions_change();

CREATE FUNCTION pull_requests_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('pull_request', NEW.url, CASE WHEN TG_OP = 'INSERT' THEN 'created' ELSE 'updated' END,
          jsonb_build_object('projectId', NEW.project_id, 'sessionId', NEW.session_id, 'number', NEW.number,
                             'state', NEW.state, 'reviewDecision', NEW.review_decision, 'mergeability', NEW.mergeability,
                             'ciState', NEW.ci_state, 'headSha', NEW.head_sha)
            || CASE WHEN TG_OP = 'INSERT' THEN '{}'::jsonb ELSE jsonb_build_object('failedRuns', NEW.failed_runs) END,
          CASE WHEN TG_OP = 'INSERT' THEN NEW.created_at ELSE NEW.updated_at END, NEW.project_id, NEW.session_id);
  RETURN NULL;
END
$$;

CREATE TRIGGER pull_requests_change_insert AFTER INSERT ON pull_requests
  FOR EACH ROW EXECUTE FUNCTION pull_requests_change();

CREATE TRIGGER pull_requests_change_update AFTER UPDATE ON pull_requests
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.review_decision IS DISTINCT FROM NEW.review_decision
                     OR OLD.mergeability IS DISTINCT FROM NEW.mergeability OR OLD.ci_state IS DISTINCT FROM NEW.ci_state
                     OR OLD.head_sha IS DISTINCT FROM NEW.head_sha)
  EXECUTE FUNCTION pull_requests_change();

CREATE FUNCTION pr_checks_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('check', NEW.pr_url || '@' || NEW.head_sha || '#' || NEW.name, coalesce(NEW.conclusion, NEW.status),
          jsonb_build_object('projectId', NEW.project_id, 'sessionId', NEW.session_id, 'prUrl', NEW.pr_url,
                             'headSha', NEW.head_sha, 'name', NEW.name, 'status', NEW.status, 'conclusion', NEW.conclusion)
            || CASE WHEN TG_OP = 'INSERT' THEN '{}'::jsonb ELSE jsonb_build_object('from', coalesce(OLD.conclusion, OLD.status)) END,
          NEW.updated_at, NEW.project_id, NEW.session_id);
  RETURN NULL;
END
$$;

CREATE TRIGGER pr_checks_change_insert AFTER INSERT ON pr_checks
  FOR EACH ROW EXECUTE FUNCTION pr_checks_change();

CREATE TRIGGER pr_checks_change_update AFTER UPDATE ON pr_checks
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.conclusion IS DISTINCT FROM NEW.conclusion)
  EXECUTE FUNCTION pr_checks_change();

CREATE FUNCTION github_deliveries_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at, project_id, session_id)
  VALUES ('github_delivery', NEW.delivery_id, NEW.outcome,
          jsonb_build_object('event', NEW.event, 'action', NEW.action, 'reason', NEW.reason,
                             'projectId', NEW.project_id, 'sessionId', NEW.session_id),
          NEW.received_at, NEW.project_id, NEW.session_id);
  RETURN NULL;
END
$$;

CREATE TRIGGER github_deliveries_change_insert AFTER INSERT ON github_deliveries
  FOR EACH ROW EXECUTE FUNCTION github_deliveries_change();
