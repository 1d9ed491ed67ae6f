// The readings an outage leaves behind, written straight into a stopped gateway's journal (as the
// gateway itself would have committed them): `seconds` × `rate` readings from 100 other devices,
// timestamped over the last `seconds`, not yet forwarded.
import { join } from 'node:path'
import pino from 'pino'
import { JournalWriter } from '../../../gateway/src/store/journal.js'
import { openStore } from '../../../gateway/src/store/open.js'
import type { GatewayTarget } from '../lib/gateway-target.js'

export function prefillBacklog(gw: GatewayTarget, seconds: number, rate: number): number {
  const total = Math.max(0, Math.round(seconds * rate))
  if (total === 0) return 0
  const db = openStore({ path: join(gw.dataDir, 'carehub.db'), log: pino({ level: 'silent' }), now: Date.now(), checkIntegrity: false })
  try {
    const writer = new JournalWriter(db)
    const start = Date.now() - seconds * 1000
    for (let i = 0; i < total; i += 5000) {
      const batch = Array.from({ length: Math.min(5000, total - i) }, (_, k) => {
        const n = i + k
        const ts = start + Math.floor((n / rate) * 1000)
        return {
          deviceId: `sim_${n % 100}`,
          measurement: 'env',
          fields: { temp_c: 20 + (n % 50) / 10, humid_pct: 40 + (n % 30) / 10, co2_ppm: 600 + (n % 40), battery_pct: 87, rssi_dbm: -61, seq: n },
          tags: { room: 'kitchen' },
          ts,
          tsFromReceipt: false,
          receivedAt: ts,
          source: 'mqtt' as const,
        }
      })
      writer.commit(batch, [])
    }
  } finally {
    db.close()
  }
  return total
}
