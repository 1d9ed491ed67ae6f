// What one journal group commit costs by batch size: JournalWriter's transaction plus the fdatasync
// of the -wal file, as the daemon runs them (synchronous=NORMAL inside, the sync after). Shows how
// much of the CPU per message at low rates is per transaction rather than per reading.
//   node --import tsx tests/bench/commit-cost.ts
import { fdatasyncSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { Reading } from '../../gateway/src/core/reading.js'
import { JournalWriter } from '../../gateway/src/store/journal.js'
import { openStore } from '../../gateway/src/store/open.js'

const DEVICES = 100
const dir = mkdtempSync(join(tmpdir(), 'carehub-commit-cost-'))
const path = join(dir, 'journal.db')
const db = openStore({ path, log: pino({ level: 'silent' }), now: Date.now(), checkIntegrity: false })
const addDevice = db.prepare(`INSERT INTO devices (id, source, created_at, updated_at) VALUES (?, 'mqtt', 0, 0)`)
for (let d = 0; d < DEVICES; d++) addDevice.run(`dev${d}`)
const writer = new JournalWriter(db)
let n = 0
const reading = (): Reading => {
  n++
  const now = Date.now()
  return {
    deviceId: `dev${n % DEVICES}`,
    measurement: 'env',
    fields: { temp_c: 21.5, humid_pct: 40, co2_ppm: 500, seq: n },
    tags: {},
    ts: now,
    tsFromReceipt: false,
    receivedAt: now,
    source: 'mqtt',
  }
}
let wal: number | undefined
process.stdout.write('readings/commit  CPU µs/commit (user + sys)  CPU µs/reading  wall µs/commit\n')
for (const size of [1, 2, 3, 5, 10, 100, 1000]) {
  const commits = size >= 100 ? 200 : 2000
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < commits; i++) {
    writer.commit(Array.from({ length: size }, reading), [], { wait: false, syncNow: false })
    wal ??= openSync(`${path}-wal`, 'r')
    fdatasyncSync(wal)
  }
  const used = process.cpuUsage(cpu)
  const per = (used.user + used.system) / commits
  process.stdout.write(
    `${String(size).padStart(15)}  ${per.toFixed(0).padStart(8)} (${(used.user / commits).toFixed(0)} + ${(used.system / commits).toFixed(0)})` +
      `${(per / size).toFixed(1).padStart(20)}${(((performance.now() - t0) * 1000) / commits).toFixed(0).padStart(16)}\n`,
  )
}
db.close()
rmSync(dir, { recursive: true, force: true })
