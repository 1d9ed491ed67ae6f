import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { Reading } from '../../../gateway/src/core/reading.js'
import { ensureDevice, updateDeviceMetadata } from '../../../gateway/src/store/devices.js'
import { JournalWriter } from '../../../gateway/src/store/journal.js'
import { type Db, openStore } from '../../../gateway/src/store/open.js'
import { LATEST_SQL, latestRowsJson } from '../../../gateway/src/timeseries/latest-preset.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

const { log } = captureLogger()
const NOW = 1_800_000_000_000
let db: Db

const reading = (deviceId: string, measurement: string, fields: Reading['fields'], ts: number): Reading => ({
  deviceId,
  measurement,
  fields,
  tags: {},
  ts,
  tsFromReceipt: false,
  receivedAt: ts,
  source: 'mqtt',
})

before(() => {
  db = openStore({ path: join(tempDir(), 'carehub.db'), log, now: NOW, checkIntegrity: false })
  for (const id of ['b_quote', 'a_plain', 'c_silent', 'd_ahead', 'e_behind']) ensureDevice(db, { id, source: 'mqtt' }, NOW)
  // A name a serialiser must escape: quotes, a backslash, a line break, a control character, non-ASCII.
  updateDeviceMetadata(db, 'b_quote', { name: 'Mum\'s "good" lamp \\ \n\u0001 💡', room: 'kitchen' }, NOW)
  updateDeviceMetadata(db, 'a_plain', { room: 'hall' }, NOW)
  // The anomaly check flags temp_c of a_plain's climate readings, so one stored row has anomalies.
  const writer = new JournalWriter(db, (d, m) => (d === 'a_plain' && m === 'climate' ? ['temp_c'] : []))
  writer.commit(
    [
      reading('a_plain', 'climate', { temp_c: 19.5, ok: true }, NOW - 90_000),
      reading('b_quote', 'power', { watts: 3, state: 'on "bright"' }, NOW - 4_000),
      reading('a_plain', 'battery', { pct: 80 }, NOW - 60_400),
    ],
    [],
  )
  // A newer reading replaces the older one of the same series.
  writer.commit([reading('a_plain', 'climate', { temp_c: 21.25, ok: false }, NOW - 1_600)], [])
  writer.commit([reading('d_ahead', 'x', { v: 1 }, NOW + 2_500), reading('e_behind', 'x', { v: 1 }, NOW - 2_500)], [])
})

after(() => db.close())

test('latest: each device’s newest reading per measurement, sorted by device and measurement, as the JSON the panel reads', () => {
  // ageSeconds rounds as Math.round does, half up, also for a reading stamped ahead of the clock.
  const rows = JSON.parse(latestRowsJson(db, {}, NOW))
  assert.deepEqual(rows.slice(0, 3), [
    {
      deviceId: 'a_plain',
      name: null,
      room: 'hall',
      measurement: 'battery',
      ts: NOW - 60_400,
      fields: { pct: 80 },
      anomalies: [],
      ageSeconds: 60,
    },
    {
      deviceId: 'a_plain',
      name: null,
      room: 'hall',
      measurement: 'climate',
      ts: NOW - 1_600,
      fields: { temp_c: 21.25, ok: false },
      anomalies: ['temp_c'],
      ageSeconds: 2,
    },
    {
      deviceId: 'b_quote',
      name: 'Mum\'s "good" lamp \\ \n\u0001 💡',
      room: 'kitchen',
      measurement: 'power',
      ts: NOW - 4_000,
      fields: { watts: 3, state: 'on "bright"' },
      anomalies: [],
      ageSeconds: 4,
    },
  ])
  assert.deepEqual(
    rows.slice(3).map((r: { deviceId: string; ageSeconds: number }) => [r.deviceId, r.ageSeconds]),
    [
      ['d_ahead', -2],
      ['e_behind', 3],
    ],
  )
})

test('latest: scoped to one device, a room or a measurement; nothing matching is an empty list', () => {
  const keys = (scope: Parameters<typeof latestRowsJson>[1]) =>
    (JSON.parse(latestRowsJson(db, scope, NOW)) as Array<{ deviceId: string; measurement: string }>).map((r) => `${r.deviceId}/${r.measurement}`)
  assert.deepEqual(keys({ device: 'a_plain' }), ['a_plain/battery', 'a_plain/climate'])
  assert.deepEqual(keys({ room: 'kitchen' }), ['b_quote/power'])
  assert.deepEqual(keys({ measurement: 'climate' }), ['a_plain/climate'])
  assert.deepEqual(keys({ room: 'hall', measurement: 'power' }), [])
  assert.deepEqual(keys({ device: 'c_silent' }), [])
  assert.equal(latestRowsJson(db, { device: 'nobody' }, NOW), '[]')
})

test('latest: devices are the outer loop, in id order, never a scan of every series', () => {
  for (const scope of [
    { now: NOW, device: null, room: null, measurement: null },
    { now: NOW, device: null, room: 'hall', measurement: null },
    { now: NOW, device: 'a_plain', room: null, measurement: 'climate' },
  ]) {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${LATEST_SQL}`).all(scope) as Array<{ detail: string }>).map((r) => r.detail)
    assert.ok(
      plan.some((d) => /^(SCAN|SEARCH) d\b/.test(d)),
      plan.join('; '),
    )
    assert.ok(
      plan.includes('SEARCH l USING PRIMARY KEY (device_id=?)') || plan.includes('SEARCH l USING PRIMARY KEY (device_id=? AND measurement=?)'),
      plan.join('; '),
    )
    assert.ok(plan.includes('SEARCH r USING INTEGER PRIMARY KEY (rowid=?)'), plan.join('; '))
  }
})
