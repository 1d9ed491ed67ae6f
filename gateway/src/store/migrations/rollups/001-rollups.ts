/**
 * The rollup database (rollups.db), a file of its own beside the journal: see store/rollup-db.ts
 * for why. The same tables as the journal held up to its migration 007 (001-initial and
 * 005-history, copied because released migrations are never edited); the fold's cursor is one row
 * here, committed with the buckets it covers.
 */
export const sql = /* sql */ `
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
  last_ts        INTEGER,
  anomalies      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tier, device_id, measurement, field, bucket_start)
) WITHOUT ROWID;
CREATE INDEX rollups_time ON rollups(tier, bucket_start);

CREATE TABLE rollup_series (
  device_id    TEXT NOT NULL,
  measurement  TEXT NOT NULL,
  field        TEXT NOT NULL,
  value        TEXT NOT NULL CHECK (json_valid(value)),
  ts           INTEGER NOT NULL,
  PRIMARY KEY (device_id, measurement, field)
) WITHOUT ROWID;

-- The journal seq up to which readings are folded into the rows above.
CREATE TABLE fold_cursor (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  seq         INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
`
