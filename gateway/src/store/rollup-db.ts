import type { Logger } from 'pino'
import { ROLLUP_MIGRATIONS } from './migrations/registry.js'
import { type Db, openStore } from './open.js'

/**
 * The rollups live in a database file of their own (rollups.db), beside the journal (carehub.db).
 * SQLite allows one writer per database file at a time (sqlite.org wal.html §2.4, "Concurrency"):
 * in the journal's file, each fold of the rollup worker held that lock for 10–20 ms every 5 s, and
 * the ingest's group commits queued behind it. In bench W1 quick runs, a 15 s window counted 44–46
 * commits that found the lock busy with the fold running, 0–2 with it held off, and the queued
 * commits were the largest in-gateway part of the slowest 1 % of PUBACKs after the disk's sync.
 * In their own file, folds and journal commits never wait for each other, and the journal's WAL
 * (and its checkpoints) carries journal pages only.
 *
 * What a second file costs:
 * - No foreign keys or transactions across the two. The fold's buckets and its cursor commit
 *   together here, so folding stays exactly-once; the journal is only read.
 * - The retention purge trusts the fold's cursor to drop raw readings, so this file is
 *   synchronous=FULL like the journal (openStore): a cursor the purge has seen is on disk.
 * - A backup is two files (README, "Data folder").
 *
 * The connection returned has the journal attached as `journal`, read by the presets' joins with
 * `journal.devices`. Nothing may BEGIN IMMEDIATE on it: that takes the write lock of every attached
 * file (sqlite.org lang_transaction.html), the journal's too. Autocommit statements and deferred
 * transactions lock only the file they write. The fold writes on a connection of its own.
 */
export function openRollupDb(options: { path: string; journalPath: string; log: Logger; now: number; checkIntegrity: boolean }): Db {
  const db = openStore({ ...options, migrations: ROLLUP_MIGRATIONS })
  try {
    db.prepare('ATTACH DATABASE ? AS journal').run(options.journalPath)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

const COLUMNS = 'tier, device_id, measurement, field, bucket_start, count, sum, min, max, last, changes, state_durations, last_ts, anomalies'

/**
 * Journals written before rollups.db existed (schema 7 and older) hold the rollup tables and the
 * fold's cursor themselves: copy them here, then drop them from the journal. Two transactions in
 * two files, in that order, and the copy replaces rows with the same key, so a crash in between
 * copies the same rows again at the next start; the journal never loses its rollups first. Runs at
 * start, before the fold. `rollups` is openRollupDb's connection (the journal attached). Returns the
 * rollup rows moved (0 when there was nothing to move).
 */
export function moveRollupsOut(journal: Db, rollups: Db): number {
  const has = journal.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'rollups'").get()
  if (!has) return 0
  // Deferred (not IMMEDIATE): the write lock is taken on rollups.db only; the journal is read.
  const moved = rollups.transaction(() => {
    const n = rollups.prepare(`INSERT OR REPLACE INTO main.rollups (${COLUMNS}) SELECT ${COLUMNS} FROM journal.rollups`).run().changes
    rollups.exec('INSERT OR REPLACE INTO main.rollup_series SELECT device_id, measurement, field, value, ts FROM journal.rollup_series')
    rollups.exec(
      `INSERT INTO main.fold_cursor (id, seq, updated_at) SELECT 1, seq, updated_at FROM journal.cursors WHERE consumer = 'rollups'
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`,
    )
    return n
  })()
  journal
    .transaction(() => {
      journal.exec("DROP TABLE rollup_series; DROP TABLE rollups; DELETE FROM cursors WHERE consumer = 'rollups'")
    })
    .immediate()
  return moved
}
