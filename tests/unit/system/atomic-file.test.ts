import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { createFileExclusive, writeFileAtomic } from '../../../gateway/src/system/atomic-file.js'
import { tempDir } from '../../_support/temp.js'

describe('atomic file writes', () => {
  test('writeFileAtomic replaces content and tightens the mode of an existing looser file', () => {
    const dir = tempDir()
    const path = join(dir, 'key.age')
    writeFileSync(path, 'old', { mode: 0o644 })
    writeFileAtomic(path, 'new', 0o600)
    assert.equal(readFileSync(path, 'utf8'), 'new')
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.deepEqual(readdirSync(dir), ['key.age'], 'no temporary file is left behind')
  })

  test('createFileExclusive creates once; a second creator gets false and the first content stays', () => {
    const dir = tempDir()
    const path = join(dir, 'identity.age')
    assert.equal(createFileExclusive(path, 'first', 0o600), true)
    assert.equal(createFileExclusive(path, 'second', 0o600), false)
    assert.equal(readFileSync(path, 'utf8'), 'first')
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.deepEqual(readdirSync(dir), ['identity.age'])
  })
})
