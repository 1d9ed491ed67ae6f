/**
 * The journal's seq without AUTOINCREMENT. AUTOINCREMENT keeps the largest seq ever handed out in
 * sqlite_sequence and updates it in every insert's transaction: a 4 KiB page in every journal
 * commit's WAL write and fsync, one in five or six of them at the bench's design point (1k readings
 * a second, ~2 per commit), where a commit writes 5–6 pages (bench WAL frames by b-tree:
 * tests/bench/README.md, "Disk writes"). A plain INTEGER PRIMARY KEY hands out max(seq) + 1
 * instead, from the table's own b-tree (sqlite.org autoinc.html).
 *
 * What AUTOINCREMENT guaranteed, that a seq is never handed out twice, now rests on:
 * - the newest reading is never deleted (timeseries/history-purge.ts), so max(seq) never falls;
 * - journal_floor: the largest seq handed out before this migration (sqlite_sequence's value; the
 *   newest readings may already be gone). Should the table hold less, the writer's first reading
 *   takes the next seq after it explicitly (store/journal.ts), and max(seq) carries on from there.
 *
 * SQLite cannot drop AUTOINCREMENT in place: the table is rebuilt (lang_altertable.html §7, the
 * generic procedure; no foreign key refers to readings, and its index and trigger are made again).
 * A one-time copy: 3.7 s per million readings (138 MiB) on the bench's Xeon host, longer on a Pi's
 * SD card, so the store tells systemd to wait (open.ts, onUpgrade). The old table's pages become
 * free pages that new readings fill again (the disk budget counts pages in use, not the file).
 */
export const sql = /* sql */ `
CREATE TABLE journal_floor (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL
);
INSERT INTO journal_floor (id, seq) VALUES (1, max(
  coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'readings'), 0),
  coalesce((SELECT max(seq) FROM readings), 0)));

CREATE TABLE readings_new (
  seq          INTEGER PRIMARY KEY,
  device_id    TEXT NOT NULL,
  measurement  TEXT NOT NULL,
  fields       TEXT NOT NULL CHECK (json_valid(fields)),
  tags         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(tags)),
  ts           INTEGER NOT NULL,
  ts_from_receipt INTEGER NOT NULL DEFAULT 0 CHECK (ts_from_receipt IN (0, 1)),
  received_at  INTEGER NOT NULL,
  source       TEXT NOT NULL CHECK (source IN ('mqtt', 'homeassistant', 'thinq', 'virtual')),
  anomalies    TEXT CHECK (anomalies IS NULL OR json_valid(anomalies))
);
INSERT INTO readings_new (seq, device_id, measurement, fields, tags, ts, ts_from_receipt, received_at, source, anomalies)
  SELECT seq, device_id, measurement, fields, tags, ts, ts_from_receipt, received_at, source, anomalies FROM readings ORDER BY seq;
DROP TABLE readings;
ALTER TABLE readings_new RENAME TO readings;
CREATE INDEX readings_series ON readings(device_id, measurement, ts);
CREATE TRIGGER readings_no_update BEFORE UPDATE ON readings
  BEGIN SELECT RAISE(ABORT, 'readings journal is append-only'); END;
`
