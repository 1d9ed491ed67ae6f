import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConnectionLimiter } from '../../../gateway/src/broker/connection-limiter.js'

// Far from the real clock: the limiter must use the `now` it is given.
const T0 = Date.parse('2031-06-15T12:00:00Z')

/** How many of `n` attempts at the same instant are allowed. */
function attempts(limiter: ConnectionLimiter, address: string, now: number, n: number): boolean[] {
  return Array.from({ length: n }, () => limiter.allow(address, now))
}

describe('connection limiter: token bucket per address', () => {
  test('a new address gets the whole burst at once, then is refused', () => {
    const limiter = new ConnectionLimiter({ burst: 3, perSecond: 1 })
    assert.deepEqual(attempts(limiter, '192.0.2.1', T0, 5), [true, true, true, false, false])
  })

  test('refused attempts cost nothing and do not delay the refill', () => {
    const limiter = new ConnectionLimiter({ burst: 1, perSecond: 1 })
    assert.equal(limiter.allow('a', T0), true)
    assert.equal(limiter.allow('a', T0 + 250), false)
    assert.equal(limiter.allow('a', T0 + 500), false)
    assert.equal(limiter.allow('a', T0 + 750), false)
    assert.equal(limiter.allow('a', T0 + 1000), true)
    assert.equal(limiter.allow('a', T0 + 1000), false)
  })

  test('tokens refill at perSecond', () => {
    const limiter = new ConnectionLimiter({ burst: 5, perSecond: 5 })
    assert.deepEqual(attempts(limiter, 'a', T0, 6), [true, true, true, true, true, false])
    assert.deepEqual(attempts(limiter, 'a', T0 + 200, 2), [true, false])
    // After one second more: 5 tokens, not more.
    assert.deepEqual(attempts(limiter, 'a', T0 + 1200, 6), [true, true, true, true, true, false])
  })

  test('a steady stream at exactly the rate is always allowed; faster is not', () => {
    const steady = new ConnectionLimiter({ burst: 2, perSecond: 4 })
    for (let i = 0; i < 40; i++) assert.equal(steady.allow('a', T0 + i * 250), true, `attempt ${i}`)
    const fast = new ConnectionLimiter({ burst: 2, perSecond: 4 })
    const results = Array.from({ length: 40 }, (_, i) => fast.allow('a', T0 + i * 125))
    // 10 s-ish at 8/s against 4/s: about half refused once the burst is spent.
    assert.equal(results.slice(0, 3).every(Boolean), true)
    assert.ok(results.filter((r) => !r).length >= 15, JSON.stringify(results))
  })

  test('the refill is capped at burst, however long the address was idle', () => {
    const limiter = new ConnectionLimiter({ burst: 3, perSecond: 10 })
    assert.deepEqual(attempts(limiter, 'a', T0, 4), [true, true, true, false])
    assert.deepEqual(attempts(limiter, 'a', T0 + 86_400_000, 4), [true, true, true, false])
  })

  test('addresses are independent', () => {
    const limiter = new ConnectionLimiter({ burst: 2, perSecond: 1 })
    assert.deepEqual(attempts(limiter, '192.0.2.1', T0, 3), [true, true, false])
    assert.deepEqual(attempts(limiter, '192.0.2.2', T0, 3), [true, true, false])
    assert.deepEqual(attempts(limiter, '::ffff:192.0.2.1', T0, 3), [true, true, false])
    assert.equal(limiter.allow('192.0.2.1', T0 + 999), false)
    assert.equal(limiter.allow('192.0.2.1', T0 + 1000), true)
    assert.equal(limiter.allow('192.0.2.2', T0 + 1000), true)
  })

  test('fractional rates: 0.5/s allows one every 2 s, 0.1/s one every 10 s', () => {
    const half = new ConnectionLimiter({ burst: 1, perSecond: 0.5 })
    assert.equal(half.allow('a', T0), true)
    assert.equal(half.allow('a', T0 + 1999), false)
    assert.equal(half.allow('a', T0 + 2000), true)
    assert.equal(half.allow('a', T0 + 3000), false)
    assert.equal(half.allow('a', T0 + 4000), true)

    const tenth = new ConnectionLimiter({ burst: 2, perSecond: 0.1 })
    assert.deepEqual(attempts(tenth, 'a', T0, 3), [true, true, false])
    assert.deepEqual(attempts(tenth, 'a', T0 + 10_000, 2), [true, false])
    const late = new ConnectionLimiter({ burst: 2, perSecond: 0.1 })
    attempts(late, 'a', T0, 2)
    assert.equal(late.allow('a', T0 + 9999), false)
    assert.deepEqual(attempts(late, 'a', T0 + 20_000, 3), [true, true, false])
  })

  test('many addresses (past the sweep threshold) do not reset a bucket that is still refilling', () => {
    const limiter = new ConnectionLimiter({ burst: 2, perSecond: 1 })
    assert.deepEqual(attempts(limiter, 'victim', T0, 3), [true, true, false])
    for (let i = 0; i < 10_050; i++) limiter.allow(`10.0.${i >> 8}.${i & 255}`, T0 + 1500)
    // 1.5 s after emptying, the bucket holds 1.5 tokens; a sweep that dropped it would hand out 2 again.
    assert.deepEqual(attempts(limiter, 'victim', T0 + 1500, 2), [true, false])
  })
})
