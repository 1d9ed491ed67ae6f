/**
 * Rules engine and alerts (issue 7). Nothing wrote the 001 alert tables, so they are replaced rather
 * than altered (SQLite cannot change a CHECK in place):
 * - alerts: the lifecycle open → acknowledged / snoozed → resolved, the values that raised it and the
 *   journal entry behind it; `idempotency_key` (gateway id + rule + firing time) makes a replay after
 *   a crash harmless.
 * - alert_reads: who has seen which alert (the panel's unread marker).
 * - alert_deliveries: one row per alert and channel (email, cloud, webhook); the cloud rows are the
 *   cloud outbox, drained ahead of telemetry (DESIGN invariant 3: alerts are never dropped).
 * - rule_actions: device commands and webhooks a rule asked for — durable before they run, their
 *   outcome recorded (the action journal).
 * - rule_state gains the journal seq it is consistent with (the rules cursor moves with it).
 * - the rules cursor starts at the end of the journal: on an upgraded box the days of readings
 *   already stored are history (the backtest's), not a backlog to raise alerts from.
 */
export const sql = /* sql */ `
DROP TABLE alert_deliveries;
DROP TABLE alerts;

CREATE TABLE alerts (
  id               INTEGER PRIMARY KEY,
  rule_id          TEXT REFERENCES rules(id) ON DELETE SET NULL,
  rule_name        TEXT,
  device_id        TEXT,
  severity         TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  title            TEXT NOT NULL,
  body             TEXT,
  detail           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
  seq              INTEGER,
  status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'snoozed', 'resolved')),
  auto_resolve     INTEGER NOT NULL DEFAULT 0 CHECK (auto_resolve IN (0, 1)),
  idempotency_key  TEXT NOT NULL UNIQUE,
  raised_at        INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  acknowledged_at  INTEGER,
  acknowledged_by  TEXT,
  snoozed_until    INTEGER,
  resolved_at      INTEGER,
  resolved_by      TEXT
);
CREATE INDEX alerts_created ON alerts(created_at);
CREATE INDEX alerts_rule_status ON alerts(rule_id, status);
CREATE INDEX alerts_snoozed ON alerts(snoozed_until) WHERE status = 'snoozed';

CREATE TABLE alert_reads (
  alert_id  INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  at        INTEGER NOT NULL,
  PRIMARY KEY (alert_id, user_id)
) WITHOUT ROWID;

CREATE TABLE alert_deliveries (
  id               INTEGER PRIMARY KEY,
  alert_id         INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  channel          TEXT NOT NULL CHECK (channel IN ('email', 'cloud', 'fallback')),
  target           TEXT NOT NULL DEFAULT '',
  event            TEXT NOT NULL DEFAULT 'raised',
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'gave_up')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  next_attempt_at  INTEGER NOT NULL,
  delivered_at     INTEGER,
  UNIQUE (alert_id, channel, target, event)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(channel, status, next_attempt_at);

CREATE TABLE rule_actions (
  id               INTEGER PRIMARY KEY,
  rule_id          TEXT REFERENCES rules(id) ON DELETE SET NULL,
  alert_id         INTEGER REFERENCES alerts(id) ON DELETE SET NULL,
  kind             TEXT NOT NULL CHECK (kind IN ('command', 'webhook')),
  spec             TEXT NOT NULL CHECK (json_valid(spec)),
  idempotency_key  TEXT NOT NULL UNIQUE,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed', 'gave_up')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  outcome          TEXT CHECK (outcome IS NULL OR json_valid(outcome)),
  created_at       INTEGER NOT NULL,
  finished_at      INTEGER
);
CREATE INDEX rule_actions_due ON rule_actions(status, next_attempt_at);

ALTER TABLE rule_state ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;

INSERT INTO cursors (consumer, seq, updated_at)
  SELECT 'rules', coalesce(max(seq), 0), 0 FROM readings WHERE true
  ON CONFLICT (consumer) DO NOTHING;
`
