import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { createConnection, type RowDataPacket } from 'mysql2/promise'
import { mariadbAvailable, startMariaDb } from '../../_support/mariadb.js'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('real MariaDB for the cloud-sync tests (tests/_support/mariadb.ts)', {
  skip: !mariadbAvailable() && 'mariadb-server is not installed, or not running as root (scripts/install-test-deps.sh installs it as root)',
}, () => {
  test('starts on loopback, serves a created user over TCP with SKIP LOCKED, and stops for good', async () => {
    const db = await startMariaDb()
    assert.equal(readFileSync(join(db.socket, '..', 'mysqld.pid'), 'utf8').trim(), String(db.pid))
    const version = await db.admin('SELECT VERSION() AS v, @@bind_address AS bind, @@character_set_server AS cs')
    assert.match(version, /^v\tbind\tcs\n10\.(1[1-9]|[6-9])\.\d+\S*\t127\.0\.0\.1\tutf8mb4\n$/)

    await db.createDatabase('sync_smoke', 'relay', "p@ss:w/ord'1")
    const url = db.url('sync_smoke')
    assert.match(url, new RegExp(`^mysql://relay:[^@]+@127\\.0\\.0\\.1:${db.port}/sync_smoke$`))

    const a = await createConnection(url)
    const b = await createConnection(url)
    try {
      await a.query('CREATE TABLE jobs (id INT PRIMARY KEY, claimed_by VARCHAR(20) NULL) ENGINE=InnoDB')
      await a.query('INSERT INTO jobs (id) VALUES (1), (2), (3)')
      const [[who]] = await a.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u')
      assert.equal(who?.u, 'relay@127.0.0.1')

      // Two workers claim jobs at once: the second skips the row the first holds instead of waiting.
      await a.beginTransaction()
      const [first] = await a.query<RowDataPacket[]>('SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED')
      assert.deepEqual(
        first.map((r) => r.id),
        [1],
      )
      await b.query('SET SESSION innodb_lock_wait_timeout = 1')
      await b.beginTransaction()
      const [second] = await b.query<RowDataPacket[]>('SELECT id FROM jobs ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED')
      assert.deepEqual(
        second.map((r) => r.id),
        [2, 3],
      )
      await b.commit()
      await a.commit()

      // The grant is on that database only.
      await assert.rejects(a.query('SELECT COUNT(*) FROM mysql.user'), /denied/)
    } finally {
      await a.end()
      await b.end()
    }

    const pid = db.pid
    await db.stop()
    assert.equal(alive(pid), false, 'mariadbd is gone after stop()')
    await db.stop() // idempotent
  })
})
