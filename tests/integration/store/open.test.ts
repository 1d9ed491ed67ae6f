import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { CarehubError } from '../../../gateway/src/core/errors.js'
import { JournalWriter } from '../../../gateway/src/store/journal.js'
import { migrate } from '../../../gateway/src/store/migrate.js'
import { MIGRATIONS } from '../../../gateway/src/store/migrations/registry.js'
import { type Db, openStore } from '../../../gateway/src/store/open.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

const NOW = Date.parse('2026-11-27T10:00:00Z')
const require = createRequire(import.meta.url)

function open(path: string, checkIntegrity = false): Db {
  return openStore({ path, log: captureLogger().log, now: NOW, checkIntegrity })
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

function expectCode(fn: () => unknown, code: string): CarehubError {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof CarehubError, `expected a CarehubError, got ${String(caught)}`)
  assert.equal(caught.code, code)
  return caught
}

describe('store: durability settings', () => {
  test('WAL and synchronous=FULL are in force on the opened connection', () => {
    const db = open(join(tempDir(), 'a.db'))
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
    // better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1: a fresh connection is NORMAL (1).
    assert.equal(db.pragma('synchronous', { simple: true }), 2)
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1)
    db.close()
  })

  test('a plain better-sqlite3 connection would have been NORMAL — the reason openStore asserts FULL', () => {
    const path = join(tempDir(), 'plain.db')
    open(path).close()
    const plain = new Database(path)
    assert.equal(plain.pragma('journal_mode', { simple: true }), 'wal')
    assert.equal(plain.pragma('synchronous', { simple: true }), 1)
    plain.close()
  })
})

describe('store: migrations', () => {
  test('an empty database gets every migration, recorded once', () => {
    const db = open(join(tempDir(), 'empty.db'))
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()
    assert.deepEqual(
      versions,
      MIGRATIONS.map((m) => m.version),
    )
    const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[])
    for (const t of [
      'users',
      'refresh_tokens',
      'mfa_recovery_codes',
      'devices',
      'device_certificates',
      'readings',
      'rollups',
      'rules',
      'rule_state',
      'rule_traces',
      'alerts',
      'alert_deliveries',
      'audit_log',
      'cursors',
      'settings',
      'dead_letters',
    ]) {
      assert.ok(tables.has(t), `table ${t} exists`)
    }
    db.close()
  })

  test('reopening an existing database applies nothing again and keeps its data', () => {
    const path = join(tempDir(), 'existing.db')
    const first = open(path)
    first.prepare("INSERT INTO devices (id, source, created_at, updated_at) VALUES ('kitchen_temp', 'mqtt', ?, ?)").run(NOW, NOW)
    first.close()
    const second = open(path)
    assert.equal(second.prepare('SELECT count(*) FROM schema_migrations').pluck().get(), MIGRATIONS.length)
    assert.equal(second.prepare("SELECT id FROM devices WHERE id = 'kitchen_temp'").pluck().get(), 'kitchen_temp')
    second.close()
  })

  test('a database at an older version gets only the missing migrations', () => {
    const path = join(tempDir(), 'older.db')
    open(path).close()
    // A later migration this database has not seen yet.
    const extra = { version: MIGRATIONS.length + 1, name: 'test-extra', sql: 'CREATE TABLE test_extra (x INTEGER)' }
    const db = new Database(path)
    const result = migrate(db, [...MIGRATIONS, extra], NOW, path)
    assert.deepEqual(result.applied, [extra.version])
    assert.equal(result.from, MIGRATIONS.length)
    db.close()
  })

  test('a database from a newer gateway is refused, not downgraded', () => {
    const path = join(tempDir(), 'newer.db')
    open(path).close()
    const raw = new Database(path)
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, ?)').run('future', NOW)
    raw.close()
    const err = expectCode(() => open(path), 'CAREHUB_ERR_STORE_TOO_NEW')
    assert.match(err.message, /schema version 999/)
  })

  test('a failing migration leaves the database at the previous whole version', () => {
    const path = join(tempDir(), 'atomic.db')
    open(path).close()
    const db = new Database(path)
    const broken = { version: MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); SELECT no_such_function();' }
    assert.throws(() => migrate(db, [...MIGRATIONS, broken], NOW, path))
    assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0)
    assert.equal(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), MIGRATIONS.length)
    db.close()
  })
})

describe('store: migration 008, the journal without AUTOINCREMENT', () => {
  /** A store as version 7 left it: readings 1..20 handed out, the newest five since purged. */
  function atVersion7(): string {
    const path = join(tempDir(), 'v7.db')
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version <= 7),
      NOW,
      path,
    )
    const put = db.prepare(
      "INSERT INTO readings (device_id, measurement, fields, ts, received_at, source, anomalies) VALUES ('d1', 'env', ?, ?, ?, 'mqtt', ?)",
    )
    for (let i = 1; i <= 20; i++) put.run(JSON.stringify({ temp_c: i }), NOW + i, NOW + i, i === 3 ? '["temp_c"]' : null)
    db.prepare('DELETE FROM readings WHERE seq > 15').run()
    assert.equal(db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").pluck().get(), 20)
    db.close()
    return path
  }

  test('the rows, the index and the append-only trigger carry over; commits no longer write sqlite_sequence', () => {
    const path = atVersion7()
    const db = open(path)
    const ddl = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'readings'").pluck().get() as string
    assert.doesNotMatch(ddl, /AUTOINCREMENT/i)
    assert.deepEqual(
      db.prepare('SELECT seq FROM readings ORDER BY seq').pluck().all(),
      Array.from({ length: 15 }, (_, i) => i + 1),
    )
    assert.equal(db.prepare('SELECT anomalies FROM readings WHERE seq = 3').pluck().get(), '["temp_c"]')
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT ts FROM readings WHERE device_id = 'd1' AND measurement = 'env' AND ts > 0").all()
    assert.match(JSON.stringify(plan), /readings_series/)
    assert.throws(() => db.prepare('UPDATE readings SET ts = 0 WHERE seq = 1').run(), /append-only/)
    assert.equal(db.prepare('PRAGMA integrity_check').pluck().get(), 'ok')

    // Seqs 16..20 were handed out (consumers may have passed them): the journal goes on from 21.
    const writer = new JournalWriter(db)
    const climate = (i: number) => ({
      source: 'mqtt' as const,
      deviceId: 'd1',
      measurement: 'env',
      fields: { temp_c: i },
      tags: {},
      ts: NOW + i,
      tsFromReceipt: false,
      receivedAt: NOW + i,
    })
    assert.deepEqual(writer.commit([climate(21), climate(22)], []), [21, 22])
    assert.deepEqual(new JournalWriter(db).commit([climate(23)], []), [23], 'a writer made later carries on from max(seq)')
    assert.equal(db.prepare("SELECT count(*) FROM sqlite_sequence WHERE name = 'readings'").pluck().get(), 0)
    db.close()
  })

  test('an upgrade says so first (systemd gets more time), and leaves no WAL the size of the rebuilt journal', () => {
    const path = atVersion7()
    const calls: Array<{ bytes: number; worstMs: number }> = []
    const { log, lines } = captureLogger()
    const db = openStore({ path, log, now: NOW, checkIntegrity: false, onUpgrade: (bytes, worstMs) => calls.push({ bytes, worstMs }) })
    assert.equal(calls.length, 1)
    assert.ok(calls[0] && calls[0].bytes > 0 && calls[0].worstMs >= 60_000, JSON.stringify(calls))
    assert.deepEqual(lines().find((l) => l.msg === 'upgrading the store; this can take a while')?.migrations, ['journal-seq'])
    assert.equal(statSync(`${path}-wal`).size, 0)
    db.close()
    // A new store, or one already at the latest version, is no upgrade.
    const fresh = join(tempDir(), 'fresh.db')
    for (const p of [fresh, fresh, path])
      openStore({ path: p, log, now: NOW, checkIntegrity: false, onUpgrade: () => assert.fail(`no upgrade for ${p}`) }).close()
  })

  test('a journal emptied by the purge still goes on after the largest seq ever handed out', () => {
    const path = atVersion7()
    const raw = new Database(path)
    raw.prepare('DELETE FROM readings').run()
    raw.close()
    const db = open(path)
    const commit = (w: JournalWriter) =>
      w.commit(
        [{ source: 'mqtt', deviceId: 'd1', measurement: 'env', fields: { temp_c: 1 }, tags: {}, ts: NOW, tsFromReceipt: false, receivedAt: NOW }],
        [],
      )
    const writer = new JournalWriter(db)
    // A commit of dead letters only does not pass the floor; the next reading still does.
    writer.commit([], [{ receivedAt: NOW, source: 'mqtt', origin: 'd1', reasonCode: 'CAREHUB_ERR_VALIDATION', reason: 'test', payload: null }])
    assert.deepEqual(commit(writer), [21])
    assert.deepEqual(commit(writer), [22])
    db.close()
  })
})

describe('store: constraints the schema enforces itself', () => {
  test('the readings journal and the audit log are append-only', () => {
    const db = open(join(tempDir(), 'append.db'))
    db.prepare(
      "INSERT INTO readings (device_id, measurement, fields, ts, received_at, source) VALUES ('d', 'climate', '{\"t\":1}', 1, 1, 'mqtt')",
    ).run()
    assert.throws(() => db.prepare('UPDATE readings SET fields = \'{"t":2}\'').run(), /append-only/)
    db.prepare("INSERT INTO audit_log (at, actor, action) VALUES (1, 'cli', 'user.create')").run()
    assert.throws(() => db.prepare("UPDATE audit_log SET action = 'x'").run(), /append-only/)
    assert.throws(() => db.prepare('DELETE FROM audit_log').run(), /append-only/)
    db.close()
  })

  test('bad enumerations and invalid JSON are refused by the database', () => {
    const db = open(join(tempDir(), 'checks.db'))
    assert.throws(
      () =>
        db
          .prepare(
            "INSERT INTO users (username, role, password_hash, created_at, updated_at, password_changed_at) VALUES ('a', 'boss', 'h', 1, 1, 1)",
          )
          .run(),
      /CHECK/,
    )
    assert.throws(
      () => db.prepare("INSERT INTO devices (id, source, metadata, created_at, updated_at) VALUES ('d', 'mqtt', '{oops', 1, 1)").run(),
      /CHECK/,
    )
    assert.throws(() => db.prepare("INSERT INTO devices (id, source, created_at, updated_at) VALUES ('d', 'zigbee', 1, 1)").run(), /CHECK/)
    db.close()
  })
})

describe('store: damaged files are refused and left untouched', () => {
  test('a file that is not a database', () => {
    const path = join(tempDir(), 'garbage.db')
    writeFileSync(path, Buffer.alloc(8192, 'not a database, just bytes '))
    const before = sha256(path)
    const err = expectCode(() => open(path), 'CAREHUB_ERR_STORE_CORRUPT')
    assert.match(err.message, new RegExp(path.replaceAll('/', '\\/')))
    assert.match(err.message, /restore/)
    assert.equal(sha256(path), before)
    assert.equal(existsSync(`${path}-wal`), false, 'no WAL file was created beside it')
  })

  test('a database with a damaged page fails the integrity check after an unclean stop', () => {
    const path = join(tempDir(), 'damaged.db')
    const db = open(path)
    const insert = db.prepare("INSERT INTO readings (device_id, measurement, fields, ts, received_at, source) VALUES (?, 'climate', ?, ?, ?, 'mqtt')")
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) insert.run(`dev${i % 50}`, JSON.stringify({ temp_c: i / 10, pad: 'x'.repeat(40) }), i, i)
    })()
    db.pragma('wal_checkpoint(TRUNCATE)')
    const pageSize = db.pragma('page_size', { simple: true }) as number
    const pages = db.pragma('page_count', { simple: true }) as number
    db.close()
    // Scribble over an index page in the middle of the file, keeping the header intact.
    const fd = openSync(path, 'r+')
    writeSync(fd, Buffer.alloc(pageSize / 2, 0x5a), 0, pageSize / 2, Math.floor(pages * 0.8) * pageSize + 16)
    closeSync(fd)
    const before = sha256(path)
    const err = expectCode(() => open(path, true), 'CAREHUB_ERR_STORE_CORRUPT')
    assert.match(err.message, /integrity check/)
    assert.equal(sha256(path), before, 'the damaged file was not modified')
  })

  test('after a crash with a live WAL: a damaged file is refused and neither it nor its WAL is changed', () => {
    const path = join(tempDir(), 'crashed.db')
    // A writer that dies mid-run: a checkpointed bulk of rows, then more transactions left in the WAL.
    const writer = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import Database from ${JSON.stringify(require.resolve('better-sqlite3'))}
         const db = new Database(${JSON.stringify(path)}); db.pragma('journal_mode = WAL')
         db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX tv ON t(v)')
         const ins = db.prepare('INSERT INTO t (v) VALUES (?)')
         db.transaction(() => { for (let i = 0; i < 5000; i++) ins.run('row-' + i + '-' + 'x'.repeat(40)) })()
         db.pragma('wal_checkpoint(PASSIVE)')
         for (let i = 0; i < 20; i++) ins.run('late-' + i)
         process.kill(process.pid, 'SIGKILL')`,
      ],
      { encoding: 'utf8' },
    )
    assert.equal(writer.signal, 'SIGKILL', writer.stderr)
    assert.ok(statSync(`${path}-wal`).size > 0, 'precondition: the WAL holds committed transactions')
    const fd = openSync(path, 'r+')
    writeSync(fd, Buffer.alloc(3000, 0x5a), 0, 3000, 4096 * 20 + 100)
    closeSync(fd)
    const before = [sha256(path), sha256(`${path}-wal`)]
    const err = expectCode(() => open(path, true), 'CAREHUB_ERR_STORE_CORRUPT')
    assert.deepEqual([sha256(path), sha256(`${path}-wal`)], before, 'database and WAL are both unchanged')
    assert.doesNotMatch(err.message, /\n/, 'the refusal is one line')
  })

  test('the integrity check passes on a healthy database and is logged', () => {
    const path = join(tempDir(), 'healthy.db')
    open(path).close()
    const { log, lines } = captureLogger()
    openStore({ path, log, now: NOW, checkIntegrity: true }).close()
    assert.ok(lines().some((l) => l.msg === 'integrity check passed after an unclean stop'))
  })
})
