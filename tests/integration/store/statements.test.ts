import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { kept } from '../../../gateway/src/store/statements.js'
import { tempDir } from '../../_support/temp.js'

function db(): Database.Database {
  const d = new Database(join(tempDir(), 's.db'))
  d.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b')")
  return d
}

describe('statements kept per connection', () => {
  test('the same SQL gives the same compiled statement on one connection, and runs correctly each time', () => {
    const d = db()
    const first = kept(d, 'SELECT v FROM t WHERE id = ?')
    assert.equal(kept(d, 'SELECT v FROM t WHERE id = ?'), first)
    assert.deepEqual(first.get(1), { v: 'a' })
    assert.deepEqual(kept(d, 'SELECT v FROM t WHERE id = ?').get(2), { v: 'b' })
    kept(d, 'INSERT INTO t (v) VALUES (?)').run('c')
    kept(d, 'INSERT INTO t (v) VALUES (?)').run('d')
    assert.equal(d.prepare('SELECT count(*) FROM t').pluck().get(), 4)
  })

  test('a plucked statement is kept apart from the same SQL returning rows', () => {
    const d = db()
    assert.deepEqual(kept(d, 'SELECT v FROM t ORDER BY id', 'pluck').all(), ['a', 'b'])
    assert.deepEqual(kept(d, 'SELECT v FROM t ORDER BY id').all(), [{ v: 'a' }, { v: 'b' }])
    assert.deepEqual(kept(d, 'SELECT v FROM t ORDER BY id', 'pluck').all(), ['a', 'b'])
  })

  test('each connection compiles its own, kept in one hidden property of the connection', () => {
    const a = db()
    const b = db()
    const before = Object.getOwnPropertySymbols(a)
    assert.notEqual(kept(a, 'SELECT 1'), kept(b, 'SELECT 1'))
    kept(a, 'SELECT 2')
    const added = Object.getOwnPropertySymbols(a).filter((s) => !before.includes(s))
    assert.equal(added.length, 1)
    assert.equal(Object.getOwnPropertyDescriptor(a, added[0] as symbol)?.enumerable, false)
    a.close()
    b.close()
  })
})
