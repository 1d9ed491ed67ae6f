import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { JournalEntry } from '../../../gateway/src/store/journal.js'
import { toLine } from '../../../gateway/src/timeseries/line-protocol.js'

const entry = (over: Partial<JournalEntry>): JournalEntry => ({
  seq: 1,
  deviceId: 'kitchen_temp',
  measurement: 'climate',
  fields: { temp_c: 21.5 },
  tags: {},
  ts: 1_795_000_000_123,
  tsFromReceipt: false,
  receivedAt: 1_795_000_000_200,
  source: 'mqtt',
  anomalies: [],
  ...over,
})

describe('line protocol', () => {
  test('measurement, sorted tags (device and source from the journal), typed fields, ms timestamp', () => {
    const line = toLine(entry({ fields: { temp_c: 21, humid_pct: 40.5, ok: true, mode: 'eco' }, tags: { room: 'kitchen' } }))
    assert.equal(line, 'climate,device=kitchen_temp,room=kitchen,source=mqtt temp_c=21,humid_pct=40.5,ok=true,mode="eco" 1795000000123')
  })

  test('integers are written as floats (no i suffix), so a field never changes type between readings', () => {
    assert.match(toLine(entry({ fields: { power_w: 100 } })) ?? '', / power_w=100 /)
    assert.doesNotMatch(toLine(entry({ fields: { power_w: 100 } })) ?? '', /100i/)
  })

  test('escapes what the syntax reserves: spaces, commas, equals signs, quotes, backslashes, newlines', () => {
    const line = toLine(entry({ measurement: 'my m,x', tags: { 'a b': 'c=d,e f', empty: '' }, fields: { 'f=1': 'say "hi"\\ now\nplease' } }))
    assert.equal(line, 'my\\ m\\,x,a\\ b=c\\=d\\,e\\ f,device=kitchen_temp,source=mqtt f\\=1="say \\"hi\\"\\\\ now\\nplease" 1795000000123')
  })

  test('the device id and source win over tags of the same name sent by the device', () => {
    assert.equal(toLine(entry({ tags: { device: 'spoofed', source: 'x' } })), 'climate,device=kitchen_temp,source=mqtt temp_c=21.5 1795000000123')
  })

  test('the same journal entry always gives the same line (a replay overwrites, never duplicates)', () => {
    const e = entry({ tags: { z: '1', a: '2' }, fields: { b: 1, a: 2 } })
    assert.equal(toLine(e), toLine(structuredClone(e)))
  })

  test('an entry without fields gives no line', () => {
    assert.equal(toLine(entry({ fields: {} })), null)
  })
})
