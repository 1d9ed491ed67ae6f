// What the panel's `latest` preset costs the event loop for the bench's 1,004 devices: the answer
// as the route gets it (latest-preset.ts: SQLite writes the JSON), beside the way it was made
// before 2026-11-28 (rows as objects, each reading's fields parsed, the whole serialised again).
//   node --import tsx tests/bench/latest-cost.ts
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { Reading } from '../../gateway/src/core/reading.js'
import { JournalWriter } from '../../gateway/src/store/journal.js'
import { openStore } from '../../gateway/src/store/open.js'
import { latestRowsJson } from '../../gateway/src/timeseries/latest-preset.js'

const DEVICES = 1004
const dir = mkdtempSync(join(tmpdir(), 'carehub-latest-cost-'))
const db = openStore({ path: join(dir, 'carehub.db'), log: pino({ level: 'silent' }), now: Date.now(), checkIntegrity: false })
const addDevice = db.prepare(`INSERT INTO devices (id, source, created_at, updated_at, room) VALUES (?, 'mqtt', 0, 0, 'kitchen')`)
const ids = Array.from({ length: DEVICES }, (_, d) => `bench_${String(d).padStart(4, '0')}`)
for (const id of ids) addDevice.run(id)
const writer = new JournalWriter(db)
const now = Date.now()
// The bench's reading (tests/bench/lib/mqtt-frames.ts), 20 per device.
for (let k = 0; k < 20; k++) {
  const readings = ids.map(
    (deviceId): Reading => ({
      deviceId,
      measurement: 'env',
      fields: { temp_c: 21.5, humid_pct: 40.2, co2_ppm: 612, battery_pct: 87, rssi_dbm: -61, seq: k },
      tags: { room: 'kitchen', fw: '1.4.2', site: 'flat-3b' },
      ts: now + k,
      tsFromReceipt: false,
      receivedAt: now + k,
      source: 'mqtt',
    }),
  )
  writer.commit(readings, [])
}

function msPerCall(fn: () => unknown): number {
  for (let i = 0; i < 50; i++) fn()
  const t0 = performance.now()
  for (let i = 0; i < 300; i++) fn()
  return (performance.now() - t0) / 300
}
// The earlier preset, kept here as the reference.
const asObjects = db.prepare(`SELECT d.id AS deviceId, d.name, d.room, r.measurement, r.ts, r.fields, r.anomalies FROM devices d
  JOIN latest_readings l ON l.device_id = d.id JOIN readings r ON r.seq = l.seq ORDER BY d.id, r.measurement`)
function parsedAndSerialised(): string {
  const rows = (asObjects.all() as Array<{ ts: number; fields: string; anomalies: string | null }>).map((r) => ({
    ...r,
    fields: JSON.parse(r.fields) as unknown,
    anomalies: r.anomalies ? (JSON.parse(r.anomalies) as unknown) : [],
    ageSeconds: Math.round((now - r.ts) / 1000),
  }))
  return JSON.stringify(rows)
}

const text = latestRowsJson(db, {}, now)
if (text !== parsedAndSerialised()) throw new Error('the two ways differ')
process.stdout.write(`latest preset, ${DEVICES} devices, ${Math.round(text.length / 1024)} KiB of JSON; ms a call, three rounds:\n`)
for (let round = 0; round < 3; round++) {
  const sql = msPerCall(() => latestRowsJson(db, {}, now))
  const js = msPerCall(parsedAndSerialised)
  process.stdout.write(`  SQLite writes the JSON (the route): ${sql.toFixed(2)}    parsed and serialised again: ${js.toFixed(2)}\n`)
}
db.close()
rmSync(dir, { recursive: true, force: true })
