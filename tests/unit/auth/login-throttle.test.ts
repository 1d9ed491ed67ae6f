import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { HashGate } from '../../../gateway/src/auth/hash-gate.js'
import { LoginThrottle } from '../../../gateway/src/auth/login-throttle.js'
import { CarehubError } from '../../../gateway/src/core/errors.js'

describe('sign-in back-off', () => {
  test('failures from many addresses slow a stranger, never the owner at an address that signed in before', () => {
    const t = new LoginThrottle({ freeFailures: 5, freeFailuresPerUser: 20, maxDelayMs: 900_000 })
    const now = 1_000_000
    t.succeeded('10.0.0.5', 'alice') // the owner's usual address
    for (let i = 0; i < 40; i++) t.failed(`203.0.113.${i}`, 'alice', now)
    assert.ok(t.waitMs('198.51.100.7', 'alice', now) > 0, 'a new address waits')
    assert.equal(t.waitMs('10.0.0.5', 'alice', now), 0, 'the known address does not')
  })

  test('back-off grows exponentially per address+user and is capped', () => {
    const t = new LoginThrottle({ freeFailures: 2, freeFailuresPerUser: 100, maxDelayMs: 5000 })
    const waits: number[] = []
    for (let i = 0; i < 6; i++) {
      t.failed('a', 'bob', 0)
      waits.push(t.waitMs('a', 'bob', 0))
    }
    assert.deepEqual(waits, [0, 1000, 2000, 4000, 5000, 5000])
  })
})

describe('password hashing gate', () => {
  test('at most N hashes at once, a short queue, then 429', async () => {
    const gate = new HashGate(2, 1)
    const release: Array<() => void> = []
    let running = 0
    let peak = 0
    const job = () =>
      gate.run(
        () =>
          new Promise<void>((resolve) => {
            running++
            peak = Math.max(peak, running)
            release.push(() => {
              running--
              resolve()
            })
          }),
      )
    const jobs = [job(), job(), job()]
    await assert.rejects(job(), (e: unknown) => e instanceof CarehubError && e.code === 'CAREHUB_ERR_RATE_LIMITED')
    while (release.length) {
      release.shift()?.()
      await new Promise((r) => setImmediate(r))
    }
    await Promise.all(jobs)
    assert.equal(peak, 2)
  })
})
