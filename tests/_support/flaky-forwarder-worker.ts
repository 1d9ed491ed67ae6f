// A forwarder worker for the host's respawn tests. Its 1st and 2nd starts die while loading (as a
// worker that cannot start would), its 3rd runs the real worker and exits 1 s later (after its
// first delivery), later ones run the real worker. A file beside the store counts the starts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { workerData } from 'node:worker_threads'

const counter = `${(workerData as { data: { path: string } }).data.path}.forwarder-starts`
const start = (existsSync(counter) ? Number(readFileSync(counter, 'utf8')) : 0) + 1
writeFileSync(counter, String(start))
if (start <= 2) throw new Error(`simulated forwarder crash at start ${start}`)
await import('../../gateway/src/timeseries/forwarder-worker.js')
if (start === 3) setTimeout(() => process.exit(3), 1000)
