import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { backoffDelay, Sleeper } from '../../../gateway/src/core/backoff.js'

describe('backoffDelay', () => {
  test('doubles per failure from min, capped at max; random 1 gives the full delay, 0 half of it', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 100, 1000, () => 1)),
      [100, 200, 400, 800, 1000, 1000],
    )
    assert.deepEqual(
      [1, 2, 3].map((n) => backoffDelay(n, 100, 1000, () => 0)),
      [50, 100, 200],
    )
    assert.equal(
      backoffDelay(10_000, 100, 1000, () => 1),
      1000,
      'no overflow after very many failures',
    )
  })
})

describe('Sleeper', () => {
  test('wake() ends the current sleep at once', async () => {
    const s = new Sleeper()
    const started = performance.now()
    const sleeping = s.sleep(10_000)
    setTimeout(() => s.wake(), 20)
    await sleeping
    assert.ok(performance.now() - started < 1000)
  })
})
