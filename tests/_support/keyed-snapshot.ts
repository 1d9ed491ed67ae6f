import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { test } from 'node:test'

/**
 * Snapshot tests keyed by name (an entity, a device type): one test per key, so a mismatch shows
 * the small diff of that key only — node's diff of two large values can spin for minutes.
 * `UPDATE_SNAPSHOTS=1` rewrites the file instead (review it before committing).
 */
export function keyedSnapshot(file: URL, actual: Record<string, unknown>, what: string): void {
  if (process.env.UPDATE_SNAPSHOTS === '1') {
    test('snapshot rewritten (UPDATE_SNAPSHOTS=1)', () => {
      writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`)
    })
    return
  }
  const expected: Record<string, unknown> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {}

  test(`the snapshot covers exactly the fixture ${what}`, () => {
    assert.ok(existsSync(file), `${file.pathname} is missing: run with UPDATE_SNAPSHOTS=1 and review it`)
    const missing = Object.keys(actual).filter((k) => !Object.hasOwn(expected, k))
    const extra = Object.keys(expected).filter((k) => !Object.hasOwn(actual, k))
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `fixture and snapshot differ in ${what}; UPDATE_SNAPSHOTS=1 rewrites it`)
  })

  for (const [key, value] of Object.entries(actual)) {
    test(`snapshot: ${key}`, () => {
      if (!Object.hasOwn(expected, key)) assert.fail(`${key} is not in the snapshot; UPDATE_SNAPSHOTS=1 rewrites it`)
      assert.deepEqual(value, expected[key], `${key} maps differently from the snapshot (UPDATE_SNAPSHOTS=1 rewrites it)`)
    })
  }
}
