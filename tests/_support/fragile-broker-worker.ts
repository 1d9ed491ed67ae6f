// A broker worker for the host's respawn tests: the real worker, which ends its thread (exit code 3)
// whenever a file `crash` appears beside its persistence folder (the file is removed first, so
// the next start lives on until the test creates it again).
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { workerData } from 'node:worker_threads'

const flag = join((workerData as { data: { persistenceDir: string } }).data.persistenceDir, '..', 'crash')
await import('../../gateway/src/broker/broker-worker.js')
setInterval(() => {
  if (!existsSync(flag)) return
  rmSync(flag)
  process.exit(3)
}, 20).unref()
