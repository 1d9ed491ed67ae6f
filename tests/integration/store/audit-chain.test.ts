import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { runCli } from '../../../gateway/src/cli/run.js'
import { appendAudit, entryHash, GENESIS, verifyAuditChain } from '../../../gateway/src/store/audit.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

function store(dir = join(tempDir(), 'data')) {
  const path = join(dir, 'carehub.db')
  mkdirSync(dir, { recursive: true })
  return { dir, path, db: openStore({ path, log: captureLogger().log, now: 1, checkIntegrity: false }) }
}

const entry = (i: number) => ({
  at: 1_790_000_000_000 + i,
  actor: 'cli',
  action: 'device.enrol',
  target: `device:d${i}`,
  detail: { serial: `s${i}` },
})

/** What an attacker with the file would do first: the append-only triggers are just SQL. */
function dropTriggers(db: ReturnType<typeof store>['db']): void {
  db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete')
}

describe('hash-chained audit log', () => {
  test('entries link from the genesis to the head; the chain verifies', () => {
    const { db } = store()
    for (let i = 1; i <= 5; i++) appendAudit(db, entry(i))
    const rows = db.prepare('SELECT id, prev_hash, hash FROM audit_log ORDER BY id').all() as Array<{ id: number; prev_hash: string; hash: string }>
    assert.equal(rows[0]?.prev_hash, GENESIS)
    for (let i = 1; i < rows.length; i++) assert.equal(rows[i]?.prev_hash, rows[i - 1]?.hash)
    assert.deepEqual(verifyAuditChain(db), { entries: 5, unchained: 0, head: rows[4]?.hash, broken: null })
  })

  test('an edited entry is detected, naming it', () => {
    const { db } = store()
    for (let i = 1; i <= 5; i++) appendAudit(db, entry(i))
    dropTriggers(db)
    db.prepare('UPDATE audit_log SET detail = ? WHERE id = 3').run('{"serial":"forged"}')
    assert.deepEqual(verifyAuditChain(db).broken, { id: 3, reason: 'its content was changed after it was written' })
  })

  test('an edit that also recomputes the entry hash (the algorithm is no secret) breaks the next link', () => {
    const { db } = store()
    for (let i = 1; i <= 4; i++) appendAudit(db, entry(i))
    dropTriggers(db)
    const row = db.prepare('SELECT * FROM audit_log WHERE id = 2').get() as Parameters<typeof entryHash>[1] & { prev_hash: string }
    const forged = { ...row, actor: 'someone-else' }
    db.prepare('UPDATE audit_log SET actor = ?, hash = ? WHERE id = 2').run(forged.actor, entryHash(row.prev_hash, forged))
    assert.deepEqual(verifyAuditChain(db).broken, { id: 3, reason: 'does not link to the entry before it' })
  })

  test('a removed entry is detected', () => {
    const { db } = store()
    for (let i = 1; i <= 5; i++) appendAudit(db, entry(i))
    dropTriggers(db)
    db.prepare('DELETE FROM audit_log WHERE id = 2').run()
    assert.deepEqual(verifyAuditChain(db).broken, { id: 3, reason: 'entry 2 is missing (removed)' })
  })

  test('entries from before the chain existed are counted as unchained, and the chain after them verifies', () => {
    const { db } = store()
    db.prepare("INSERT INTO audit_log (at, actor, action) VALUES (1, 'cli', 'user.create'), (2, 'cli', 'user.create')").run()
    appendAudit(db, entry(1))
    appendAudit(db, entry(2))
    const report = verifyAuditChain(db)
    assert.equal(report.unchained, 2)
    assert.equal(report.entries, 4)
    assert.equal(report.broken, null)
  })

  test('two connections (daemon and CLI) appending in turn never fork the chain', () => {
    const a = store()
    const b = openStore({ path: a.path, log: captureLogger().log, now: 1, checkIntegrity: false })
    for (let i = 1; i <= 20; i++) appendAudit(i % 2 ? a.db : b, entry(i))
    assert.equal(verifyAuditChain(a.db).broken, null)
    assert.equal(verifyAuditChain(a.db).entries, 20)
    b.close()
  })

  test('carehub audit verify: exit 0 with the head when intact; exit 65 naming the entry when broken', async () => {
    const { db, dir } = store()
    for (let i = 1; i <= 3; i++) appendAudit(db, entry(i))
    let out = ''
    let err = ''
    const io = {
      env: { CAREHUB_DATA_DIR: dir },
      cwd: dir,
      stdout: (t: string) => {
        out += t
      },
      stderr: (t: string) => {
        err += t
      },
      stdin: async () => '',
      now: () => Date.now(),
    }
    assert.equal(await runCli(['audit', 'verify'], io), 0)
    assert.match(out, /^audit log intact: 3 entries; head [0-9a-f]{64}\n$/)
    dropTriggers(db)
    db.prepare("UPDATE audit_log SET target = 'device:other' WHERE id = 2").run()
    assert.equal(await runCli(['audit', 'verify'], io), 65)
    assert.match(err, /audit log broken at entry 2: its content was changed/)
  })
})
