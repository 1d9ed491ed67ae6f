// A floor for the durable PUBACK: what this machine's disk takes to fdatasync small appends, with
// nothing else writing. The journal acknowledges a reading only after an fdatasync of the WAL that
// started after its commit (gateway/src/store/wal-sync.ts), so no PUBACK can beat one sync, and a
// single slow sync holds every PUBACK that waits for it.
import { mkdtempSync, rmSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { percentiles } from './stats.js'

const FILE_BYTES = 8 * 1024 * 1024

/**
 * Write 4 KiB (one WAL frame) and fdatasync, every `everyMs`, for `seconds`, in `dir`'s filesystem:
 * in place, through a file written and synced beforehand, as the journal's WAL is (it keeps its
 * size: gateway/src/store/open.ts). Appending would also commit the filesystem's journal at every
 * sync, for the size, which the WAL's syncs mostly do not.
 */
export async function diskSyncFloor(dir: string, seconds: number, everyMs = 2): Promise<Record<string, number | null>> {
  const folder = mkdtempSync(join(dir, 'carehub-disk-floor-'))
  const file = await open(join(folder, 'wal'), 'w+')
  const frame = Buffer.alloc(4096, 7)
  const ms: number[] = []
  try {
    await file.write(Buffer.alloc(FILE_BYTES, 1), 0, FILE_BYTES, 0)
    await file.sync()
    for (let at = 0, until = performance.now() + seconds * 1000; performance.now() < until; at = (at + frame.length) % FILE_BYTES) {
      await file.write(frame, 0, frame.length, at)
      const t = performance.now()
      await file.datasync()
      ms.push(performance.now() - t)
      await new Promise((r) => setTimeout(r, everyMs))
    }
  } finally {
    await file.close()
    rmSync(folder, { recursive: true, force: true })
  }
  const p = percentiles(ms)
  return { diskSyncs: ms.length, diskSyncP50Ms: p.p50, diskSyncP99Ms: p.p99, diskSyncP999Ms: p.p999, diskSyncMaxMs: p.max }
}
