/**
 * The schema the whole seed needs, created up front so later issues fill tables rather than
 * reshape them. Conventions: times are INTEGER milliseconds since the epoch (UTC); JSON columns are
 * TEXT with a json_valid CHECK; enumerations are CHECK constraints, so a bad value is refused by
 * the database itself, whatever code wrote it.
 */
export const sql = /* sql */ `
CREATE TABLE users (
  id                  INTEGER PRIMARY KEY,
  username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
  role                TEXT NOT NULL CHECK (role IN ('admin', 'caregiver', 'installer', 'viewer')),
  password_hash       TEXT NOT NULL,
  display_name        TEXT,
  email               TEXT,
  totp_secret_enc     BLOB,              -- age-encrypted TOTP seed, NULL until MFA is enrolled
  totp_last_step      INTEGER,           -- RFC 6238 §5.2: an accepted step is never accepted again
  disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  sessions_valid_after INTEGER NOT NULL DEFAULT 0, -- ASVS 7.4.1: tokens issued before this are void
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL
);

CREATE TABLE mfa_recovery_codes (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash  TEXT NOT NULL,
  used_at    INTEGER
);
CREATE INDEX mfa_recovery_codes_user ON mfa_recovery_codes(user_id);

-- RFC 9700 §4.14.2: rotated refresh tokens, stored hashed, grouped in a family so reuse of a
-- consumed token can revoke the whole family.
CREATE TABLE refresh_tokens (
  id                 INTEGER PRIMARY KEY,
  token_hash         TEXT NOT NULL UNIQUE,
  family_id          TEXT NOT NULL,
  parent_id          INTEGER REFERENCES refresh_tokens(id),
  user_id            INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  issued_at          INTEGER NOT NULL,
  expires_at         INTEGER NOT NULL,
  family_expires_at  INTEGER NOT NULL,  -- absolute session lifetime
  used_at            INTEGER,
  successor_id       INTEGER REFERENCES refresh_tokens(id),
  revoked_at         INTEGER,
  user_agent         TEXT,
  ip                 TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

CREATE TABLE devices (
  id            TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  source        TEXT NOT NULL CHECK (source IN ('mqtt', 'homeassistant', 'thinq', 'virtual')),
  type          TEXT NOT NULL DEFAULT 'sensor',
  name          TEXT,
  room          TEXT,
  capabilities  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(capabilities)),
  metadata      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  availability  TEXT NOT NULL DEFAULT 'unknown' CHECK (availability IN ('unknown', 'online', 'offline', 'unavailable')),
  last_seen_at  INTEGER,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX devices_room ON devices(room);
CREATE INDEX devices_source_type ON devices(source, type);

CREATE TABLE device_certificates (
  serial              TEXT PRIMARY KEY,   -- hex, as in the certificate
  device_id           TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  fingerprint_sha256  TEXT NOT NULL UNIQUE,
  not_before          INTEGER NOT NULL,
  not_after           INTEGER NOT NULL,
  issued_at           INTEGER NOT NULL,
  revoked_at          INTEGER,
  revocation_reason   TEXT
);
CREATE INDEX device_certificates_device ON device_certificates(device_id);

-- The append-only journal every consumer reads by cursor (DESIGN invariant 2). seq is the cursor.
CREATE TABLE readings (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id    TEXT NOT NULL,
  measurement  TEXT NOT NULL,
  fields       TEXT NOT NULL CHECK (json_valid(fields)),
  tags         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(tags)),
  ts           INTEGER NOT NULL,          -- the reading's own time (ms)
  ts_from_receipt INTEGER NOT NULL DEFAULT 0 CHECK (ts_from_receipt IN (0, 1)), -- device sent no ts
  received_at  INTEGER NOT NULL,
  source       TEXT NOT NULL CHECK (source IN ('mqtt', 'homeassistant', 'thinq', 'virtual'))
);
CREATE INDEX readings_series ON readings(device_id, measurement, ts);
CREATE TRIGGER readings_no_update BEFORE UPDATE ON readings
  BEGIN SELECT RAISE(ABORT, 'readings journal is append-only'); END;

-- Local history: 1m -> 5m -> 1h tiers. Numeric fields use count/sum/min/max/last; binary, state and
-- event fields use last, changes and seconds spent in each state (state_durations JSON).
CREATE TABLE rollups (
  tier           TEXT NOT NULL CHECK (tier IN ('1m', '5m', '1h')),
  device_id      TEXT NOT NULL,
  measurement    TEXT NOT NULL,
  field          TEXT NOT NULL,
  bucket_start   INTEGER NOT NULL,
  count          INTEGER NOT NULL,
  sum            REAL,
  min            REAL,
  max            REAL,
  last           TEXT,
  changes        INTEGER NOT NULL DEFAULT 0,
  state_durations TEXT CHECK (state_durations IS NULL OR json_valid(state_durations)),
  PRIMARY KEY (tier, device_id, measurement, field, bucket_start)
) WITHOUT ROWID;
CREATE INDEX rollups_time ON rollups(tier, bucket_start);

CREATE TABLE rules (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  definition  TEXT NOT NULL CHECK (json_valid(definition)),
  origin      TEXT NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'yaml')),
  version     INTEGER NOT NULL DEFAULT 1,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- Pending 'for' timers, window state, cooldowns and inactivity clocks survive a restart here.
CREATE TABLE rule_state (
  rule_id     TEXT PRIMARY KEY REFERENCES rules(id) ON DELETE CASCADE,
  state       TEXT NOT NULL CHECK (json_valid(state)),
  updated_at  INTEGER NOT NULL
);

CREATE TABLE rule_traces (
  id          INTEGER PRIMARY KEY,
  rule_id     TEXT NOT NULL REFERENCES rules(id) ON DELETE CASCADE,
  at          INTEGER NOT NULL,
  outcome     TEXT NOT NULL,             -- fired, near_miss, reset, …
  seq         INTEGER,                   -- the journal entry evaluated, if any
  detail      TEXT NOT NULL CHECK (json_valid(detail))
);
CREATE INDEX rule_traces_rule ON rule_traces(rule_id, at);

CREATE TABLE alerts (
  id               INTEGER PRIMARY KEY,
  rule_id          TEXT REFERENCES rules(id) ON DELETE SET NULL,
  device_id        TEXT,
  severity         TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  title            TEXT NOT NULL,
  body             TEXT,
  status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  idempotency_key  TEXT NOT NULL UNIQUE,  -- gateway id + journal seq + rule: replays are harmless
  created_at       INTEGER NOT NULL,
  acknowledged_at  INTEGER,
  acknowledged_by  TEXT,
  resolved_at      INTEGER
);
CREATE INDEX alerts_status ON alerts(status, created_at);

CREATE TABLE alert_deliveries (
  id               INTEGER PRIMARY KEY,
  alert_id         INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  channel          TEXT NOT NULL,         -- panel, email, cloud, webhook, …
  target           TEXT,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'gave_up')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  next_attempt_at  INTEGER,
  delivered_at     INTEGER,
  UNIQUE (alert_id, channel, target)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(status, next_attempt_at);

-- ASVS 16.4.2: the audit log cannot be modified through the application.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  actor       TEXT NOT NULL,              -- 'user:<id>', 'cli', 'system'
  action      TEXT NOT NULL,
  target      TEXT,
  outcome     TEXT NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok', 'denied', 'failed')),
  ip          TEXT,
  request_id  TEXT,
  detail      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

-- One cursor per journal consumer (influx, cloud, rules, …): the last seq it has fully handled.
CREATE TABLE cursors (
  consumer    TEXT PRIMARY KEY,
  seq         INTEGER NOT NULL DEFAULT 0,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE settings (
  key         TEXT PRIMARY KEY,
  value       TEXT NOT NULL CHECK (json_valid(value)),
  updated_at  INTEGER NOT NULL
);

-- Input refused at ingest, kept so nothing a device sent is silently lost.
CREATE TABLE dead_letters (
  id           INTEGER PRIMARY KEY,
  received_at  INTEGER NOT NULL,
  source       TEXT NOT NULL,
  origin       TEXT,                      -- topic, URL path, client id
  reason_code  TEXT NOT NULL,             -- CAREHUB_ERR_* code
  reason       TEXT NOT NULL,
  payload      BLOB
);
CREATE INDEX dead_letters_at ON dead_letters(received_at);
`
