// A forwarder worker that dies on its first start (as one that cannot load would), then runs the
// real one: for the host's respawn. The marker file beside the store remembers the first death.
import { existsSync, writeFileSync } from 'node:fs'
import { workerData } from 'node:worker_threads'

const marker = `${(workerData as { data: { path: string } }).data.path}.forwarder-died`
if (!existsSync(marker)) {
  writeFileSync(marker, '')
  throw new Error('simulated forwarder crash at start')
}
await import('../../gateway/src/timeseries/forwarder-worker.js')
