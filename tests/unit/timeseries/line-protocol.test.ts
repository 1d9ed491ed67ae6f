import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { JournalEntry } from '../../../gateway/src/store/journal-reads.js'
import { type JournalLineRow, LineEncoder, toLine } from '../../../gateway/src/timeseries/line-protocol.js'

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

describe('LineEncoder (journal rows as the forwarder reads them)', () => {
  const row = (e: JournalEntry): JournalLineRow => [
    e.seq,
    e.deviceId,
    e.measurement,
    JSON.stringify(e.fields),
    JSON.stringify(e.tags),
    e.ts,
    e.source,
  ]

  test('gives exactly the line toLine gives for the parsed entry: plain fields, strings, escapes, spoofed tags, none', () => {
    const encoder = new LineEncoder()
    const cases = [
      entry({ fields: { temp_c: 21, humid_pct: 40.5, ok: true, low: false, rssi: -61, big: 1e21, tiny: 1.5e-7 }, tags: { room: 'kitchen' } }),
      entry({ fields: { temp_c: 21, mode: 'eco' } }),
      entry({ measurement: 'my m,x', tags: { 'a b': 'c=d,e f', empty: '' }, fields: { 'f=1': 'say "hi"\\ now\nplease' } }),
      entry({ tags: { device: 'spoofed', source: 'x' } }),
      entry({ fields: { '2': 1, a: 2, '1': 3 } }),
      entry({ fields: { 'temp c': 1, é: 2 } }),
      entry({ fields: {} }),
    ]
    for (const e of cases) assert.equal(encoder.encode(row(e)), toLine(e), JSON.stringify(e.fields))
  })

  test('random readings: the same line as toLine, also when a series repeats with other tags (its cached head)', () => {
    let state = 42
    const rand = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31
      return state / 2 ** 31
    }
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
    const keys = ['temp_c', 'rh', 'a.b', 'x-y', '_n', '9lives', '1', 'k=v', 'sp ace', 'q"uote', 'back\\slash', 'ünï']
    const values = () =>
      pick([
        () => Math.round(rand() * 1000) / 10,
        () => -Math.floor(rand() * 1e6),
        () => rand() * 1e-9,
        () => rand() * 1e25,
        () => rand() < 0.5,
        () => pick(['on', 'a "b"', 'x\ny', '']),
      ])()
    const encoder = new LineEncoder()
    for (let i = 0; i < 2000; i++) {
      const fields: Record<string, number | boolean | string> = {}
      for (let k = 1 + Math.floor(rand() * 5); k > 0; k--) fields[pick(keys)] = values()
      const tags: Record<string, string> = rand() < 0.5 ? {} : { room: pick(['kitchen', 'hall way', '']), fw: pick(['1.4.2', '2,0']) }
      const e = entry({
        seq: i,
        deviceId: pick(['d1', 'd 2', 'd,3']),
        measurement: pick(['env', 'power use']),
        source: pick(['mqtt', 'thinq']),
        fields,
        tags,
      })
      assert.equal(encoder.encode(row(e)), toLine(e), JSON.stringify(e))
    }
  })
})
