import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { clockMinute, inSpan, localTime, nextLocal, previousLocal } from '../../../gateway/src/rules/local-time.js'
import { mulberry32 } from '../../_support/prng.js'
import { at, BERLIN, DAY, HOUR, iso, MIN, T0 } from './_rules.js'

const hm = (h: number, m = 0) => h * 60 + m

describe('clockMinute', () => {
  test('"HH:MM" → minutes since midnight', () => {
    assert.equal(clockMinute('00:00'), 0)
    assert.equal(clockMinute('07:30'), 450)
    assert.equal(clockMinute('12:05'), 725)
    assert.equal(clockMinute('23:59'), 1439)
  })
})

describe('inSpan: [from, to), wrapping past midnight', () => {
  test('a daytime span includes from, excludes to', () => {
    assert.equal(inSpan(hm(8), hm(8), hm(20)), true)
    assert.equal(inSpan(hm(19, 59), hm(8), hm(20)), true)
    assert.equal(inSpan(hm(20), hm(8), hm(20)), false)
    assert.equal(inSpan(hm(7, 59), hm(8), hm(20)), false)
  })
  test('a night span wraps past midnight', () => {
    assert.equal(inSpan(hm(22), hm(22), hm(7)), true)
    assert.equal(inSpan(hm(23, 59), hm(22), hm(7)), true)
    assert.equal(inSpan(hm(0), hm(22), hm(7)), true)
    assert.equal(inSpan(hm(6, 59), hm(22), hm(7)), true)
    assert.equal(inSpan(hm(7), hm(22), hm(7)), false)
    assert.equal(inSpan(hm(12), hm(22), hm(7)), false)
    assert.equal(inSpan(hm(21, 59), hm(22), hm(7)), false)
  })
})

const mw = (l: { minute: number; weekday: number }) => ({ minute: l.minute, weekday: l.weekday })

describe('localTime', () => {
  test('UTC: minute of the day and weekday (0 = Monday)', () => {
    assert.deepEqual(mw(localTime(T0, 'UTC')), { minute: hm(21), weekday: 4 })
    assert.deepEqual(mw(localTime(at('2026-11-29T00:00:00Z'), 'UTC')), { minute: 0, weekday: 6 })
    assert.deepEqual(mw(localTime(at('2026-11-30T23:59:59.999Z'), 'UTC')), { minute: hm(23, 59), weekday: 0 })
  })

  test('Europe/Berlin in winter (UTC+1) and summer (UTC+2)', () => {
    assert.deepEqual(mw(localTime(T0, BERLIN)), { minute: hm(22), weekday: 4 })
    assert.deepEqual(mw(localTime(at('2026-11-27T23:30:00Z'), BERLIN)), { minute: hm(0, 30), weekday: 5 })
    assert.deepEqual(mw(localTime(at('2026-07-01T12:00:00Z'), BERLIN)), { minute: hm(14), weekday: 2 })
  })

  test('across the spring-forward night, 02:xx never appears', () => {
    assert.deepEqual(mw(localTime(at('2027-03-28T00:59:00Z'), BERLIN)), { minute: hm(1, 59), weekday: 6 })
    assert.deepEqual(mw(localTime(at('2027-03-28T01:00:00Z'), BERLIN)), { minute: hm(3), weekday: 6 })
  })

  test('across the fall-back night, 02:xx appears twice', () => {
    assert.deepEqual(mw(localTime(at('2026-10-25T00:30:00Z'), BERLIN)), { minute: hm(2, 30), weekday: 6 })
    assert.deepEqual(mw(localTime(at('2026-10-25T01:30:00Z'), BERLIN)), { minute: hm(2, 30), weekday: 6 })
    assert.deepEqual(mw(localTime(at('2026-10-25T02:00:00Z'), BERLIN)), { minute: hm(3), weekday: 6 })
  })

  test('many zones in a row do not mix up their cached answers', () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(localTime(T0, 'UTC').minute, hm(21))
      assert.equal(localTime(T0, BERLIN).minute, hm(22))
      assert.equal(localTime(T0, 'America/New_York').minute, hm(16))
    }
  })
})

describe('nextLocal: the first instant after t when the local clock reads hh:mm', () => {
  test('strictly after t: at the very minute it is a day later', () => {
    assert.equal(nextLocal(T0, hm(21), 'UTC'), T0 + DAY)
    assert.equal(nextLocal(T0 - 1, hm(21), 'UTC'), T0)
    assert.equal(nextLocal(T0 + 30_000, hm(21), 'UTC'), T0 + DAY)
    assert.equal(nextLocal(T0, hm(21, 1), 'UTC'), T0 + MIN)
    assert.equal(nextLocal(T0, hm(7), 'UTC'), at('2026-11-28T07:00:00Z'))
    assert.equal(nextLocal(T0, 0, 'UTC'), at('2026-11-28T00:00:00Z'))
  })

  test('in the home time zone', () => {
    assert.equal(nextLocal(T0, hm(7), BERLIN), at('2026-11-28T06:00:00Z'))
    assert.equal(nextLocal(T0, hm(22), BERLIN), at('2026-11-28T21:00:00Z'))
    assert.equal(nextLocal(T0, hm(23), BERLIN), at('2026-11-27T22:00:00Z'))
  })

  test('across spring-forward (2027-03-28 02:00 → 03:00): the day is 23 h long', () => {
    // Saturday 22:00 CET → Sunday 07:00 CEST is only 8 h later.
    assert.equal(nextLocal(at('2027-03-27T21:00:00Z'), hm(7), BERLIN), at('2027-03-28T05:00:00Z'))
    assert.equal(nextLocal(at('2027-03-27T23:00:00Z'), hm(3), BERLIN), at('2027-03-28T01:00:00Z'))
    assert.equal(nextLocal(at('2027-03-27T23:00:00Z'), hm(1, 59), BERLIN), at('2027-03-28T00:59:00Z'))
    // Sunday 12:00 CEST → Monday 12:00 CEST.
    assert.equal(nextLocal(at('2027-03-28T10:00:00Z'), hm(12), BERLIN), at('2027-03-29T10:00:00Z'))
  })

  test('across fall-back (2026-10-25 03:00 → 02:00): the day is 25 h long', () => {
    assert.equal(nextLocal(at('2026-10-24T20:00:00Z'), hm(7), BERLIN), at('2026-10-25T06:00:00Z'))
    assert.equal(nextLocal(at('2026-10-24T20:00:00Z'), hm(22), BERLIN), at('2026-10-25T21:00:00Z'))
    assert.equal(nextLocal(at('2026-10-24T22:00:00Z'), hm(2, 30), BERLIN), at('2026-10-25T00:30:00Z'))
  })

  test('a skipped time (02:30 on the spring-forward night) falls on the next valid minute, 03:00 CEST', () => {
    const n = nextLocal(at('2027-03-27T23:00:00Z'), hm(2, 30), BERLIN)
    assert.equal(iso(n), '2027-03-28T01:00:00.000Z')
  })

  test('a repeated time (02:30 on the fall-back night) is found again an hour later, as the clock reads it again', () => {
    const n = nextLocal(at('2026-10-25T00:30:00Z'), hm(2, 30), BERLIN)
    assert.equal(iso(n), '2026-10-25T01:30:00.000Z')
  })

  test('property: the answer reads hh:mm, lies within a day, and no minute in between reads hh:mm (UTC and Berlin, outside DST nights)', () => {
    const rnd = mulberry32(20261127)
    const start = at('2026-11-02T00:00:00Z')
    for (const zone of ['UTC', BERLIN]) {
      for (let i = 0; i < 60; i++) {
        const t = start + Math.floor(rnd() * 20 * DAY)
        const target = Math.floor(rnd() * 1440)
        const n = nextLocal(t, target, zone)
        assert.ok(n > t && n <= t + DAY, `${zone} ${iso(t)} → ${target}: ${iso(n)}`)
        assert.equal(localTime(n, zone).minute, target)
        for (let m = Math.floor(t / MIN) * MIN + MIN; m < n; m += MIN)
          assert.notEqual(localTime(m, zone).minute, target, `${iso(m)} reads it earlier`)
      }
    }
  })
})

describe('previousLocal: the last instant at or before t when the local clock read hh:mm', () => {
  test('at or before t', () => {
    assert.equal(previousLocal(T0, hm(21), 'UTC'), T0)
    assert.equal(previousLocal(T0 + 59_999, hm(21), 'UTC'), T0)
    assert.equal(previousLocal(T0 - 1, hm(21), 'UTC'), T0 - DAY)
    assert.equal(previousLocal(T0, hm(6), 'UTC'), at('2026-11-27T06:00:00Z'))
    assert.equal(previousLocal(T0, hm(22), 'UTC'), at('2026-11-26T22:00:00Z'))
  })

  test('in the home time zone', () => {
    assert.equal(previousLocal(T0, hm(6), BERLIN), at('2026-11-27T05:00:00Z'))
    assert.equal(previousLocal(T0, hm(22), BERLIN), T0)
    assert.equal(previousLocal(T0, hm(23), BERLIN), at('2026-11-26T22:00:00Z'))
  })

  test('across DST changes', () => {
    assert.equal(previousLocal(at('2026-10-25T12:00:00Z'), hm(6), BERLIN), at('2026-10-25T05:00:00Z'))
    assert.equal(previousLocal(at('2026-10-25T12:00:00Z'), hm(1), BERLIN), at('2026-10-24T23:00:00Z'))
    assert.equal(previousLocal(at('2027-03-28T12:00:00Z'), hm(6), BERLIN), at('2027-03-28T04:00:00Z'))
    assert.equal(previousLocal(at('2027-03-28T12:00:00Z'), hm(1), BERLIN), at('2027-03-28T00:00:00Z'))
    assert.equal(previousLocal(at('2027-03-29T01:00:00Z'), hm(4), BERLIN), at('2027-03-28T02:00:00Z'))
  })

  test('on the fall-back night the clock read 02:30 twice: the later one (02:30 CET, 01:30Z) is the last before 02:40 CET', {}, () => {
    assert.equal(iso(previousLocal(at('2026-10-25T01:40:00Z'), hm(2, 30), BERLIN)), '2026-10-25T01:30:00.000Z')
  })

  test('property: previousLocal ≤ t < nextLocal(previousLocal), and both read hh:mm (UTC and Berlin, outside DST nights)', () => {
    const rnd = mulberry32(7)
    const start = at('2026-11-02T00:00:00Z')
    for (const zone of ['UTC', BERLIN]) {
      for (let i = 0; i < 200; i++) {
        const t = start + Math.floor(rnd() * 20 * DAY)
        const target = Math.floor(rnd() * 1440)
        const p = previousLocal(t, target, zone)
        assert.ok(p <= t && p > t - DAY, `${zone} ${iso(t)} ← ${target}: ${iso(p)}`)
        assert.equal(localTime(p, zone).minute, target)
        assert.ok(nextLocal(p, target, zone) > t)
      }
    }
  })

  test('a whole year in Berlin: nextLocal(previousLocal(t)) steps over t by at most 25 h', () => {
    for (let t = at('2026-01-01T00:17:00Z'); t < at('2027-01-01T00:00:00Z'); t += 7 * HOUR) {
      const p = previousLocal(t, hm(6), BERLIN)
      const n = nextLocal(p, hm(6), BERLIN)
      assert.ok(p <= t && t < n && n - p <= 25 * HOUR && n - p >= 23 * HOUR, iso(t))
    }
  })
})
