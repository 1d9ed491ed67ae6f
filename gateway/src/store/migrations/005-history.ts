/**
 * Time series (issue 5):
 * - readings.anomalies: field names flagged at ingest (3σ over the series' recent values), JSON
 *   array or NULL. Flagged readings are stored like any other: flagged, never dropped.
 * - rollups.last_ts / anomalies: which reading `last` came from (merges keep the newest), and how
 *   many flagged readings a bucket holds.
 * - rollup_series: each series' previous value and time, so state durations and change counts
 *   carry across folds and restarts.
 * - reading_pins: journal entries that must never be dropped for the disk budget (readings that
 *   raised an alert; written by the rules engine).
 */
export const sql = /* sql */ `
ALTER TABLE readings ADD COLUMN anomalies TEXT CHECK (anomalies IS NULL OR json_valid(anomalies));
ALTER TABLE rollups ADD COLUMN last_ts INTEGER;
ALTER TABLE rollups ADD COLUMN anomalies INTEGER NOT NULL DEFAULT 0;

CREATE TABLE rollup_series (
  device_id    TEXT NOT NULL,
  measurement  TEXT NOT NULL,
  field        TEXT NOT NULL,
  value        TEXT NOT NULL CHECK (json_valid(value)),
  ts           INTEGER NOT NULL,
  PRIMARY KEY (device_id, measurement, field)
) WITHOUT ROWID;

CREATE TABLE reading_pins (
  seq         INTEGER PRIMARY KEY,
  reason      TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
`
