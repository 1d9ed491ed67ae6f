import { access } from 'node:fs'
import { type ResourceLimits, Worker } from 'node:worker_threads'

/**
 * Bootstrap of a worker that runs one of our own modules. Compiled (production) the module is .js
 * and is imported as is. From source (the tests run TypeScript through tsx) a worker does not
 * inherit the parent's `--import tsx` loader, so the bootstrap registers tsx itself first.
 *
 * `nice`: os.setPriority(n) is setpriority(PRIO_PROCESS, 0, n), and on Linux the nice value is a
 * per-thread attribute, `0` naming the calling thread (setpriority(2), "BUGS"): only this worker
 * is lowered, by `nice` from where it started (a daemon already run at nice 15 keeps its
 * background threads below its own). Elsewhere it would lower the whole process, so it is Linux
 * only. Lowering one's own priority needs no privilege; should it fail all the same, the worker
 * runs at the process's priority. Threads the worker starts inherit its value: none of ours do,
 * and libuv's thread pool (the WAL's fdatasync runs there) is the main thread's, see
 * startModuleWorker.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads')
;(async () => {
  if (workerData.nice && process.platform === 'linux') {
    const os = require('node:os')
    try { os.setPriority(Math.min(19, os.getPriority() + workerData.nice)) } catch {}
  }
  if (workerData.tsx) (await import(workerData.tsx)).register()
  await import(workerData.url)
})()
`

/**
 * The nice value of the workers whose work can wait: the time-series forwarder and the rollup
 * fold. On two cores at saturation or during a catch-up there are more runnable threads than
 * cores, and Linux's scheduler then shares the CPU by weight: nice 10 weighs 110 against 1024 for
 * nice 0 (kernel sched_prio_to_weight), so the broker's and the API's threads get most of it and
 * the background ones the rest. Their work is by cursor (a lag, never a loss).
 */
export const BACKGROUND_NICE = 10

/** The sibling module `name` (without extension) of the module at `base`, as the same kind (.js or .ts). */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base)
}

/**
 * A small young generation for a worker that does little: V8 grows each isolate's semi-spaces up to
 * 16 MB (32 MB resident, per thread) when it allocates steadily, and the WAL checkpointer does not
 * need that headroom. Only the young generation is capped (an old-generation cap would end the
 * worker with ERR_WORKER_OUT_OF_MEMORY).
 */
export const BACKGROUND_WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 3 }

/**
 * For the workers that read the journal in batches (the forwarder, the rollup fold). A batch of
 * thousands of entries is alive across several scavenges of a 3 MB young generation, so each
 * scavenge copied it and then promoted it to the old generation, whose collections followed: in a
 * bench W3 profile the forwarder spent 6.2 of its 15.8 busy seconds in GC. Reading and encoding
 * 300,000 entries in a worker (5,000 per batch, two batches alive) cost 13–15 CPU-µs per entry
 * with 3 MB, 10–10.6 with 8 MB, 9–12 with 16 MB or V8's default. The semi-spaces start at 1 MB and
 * grow only under a steady allocation rate, so an idle box keeps its small heap.
 */
export const BATCH_WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 8 }

/**
 * Start a worker thread running the ES module at `url`; `data` reaches it as workerData.data.
 * `nice` (Linux): the thread's nice value, 0 to 19 (BACKGROUND_NICE for work that can wait).
 */
export function startModuleWorker(url: URL, data: unknown, resourceLimits: ResourceLimits, nice = 0): Worker {
  // libuv creates its thread pool on first use, from the thread that uses it, and a new thread
  // takes its creator's nice value: the pool must never be born in a lowered worker. An ES module
  // entry (the daemon's) has it from the start; this makes it so whatever the entry.
  if (nice > 0) access(process.execPath, () => {})
  const tsx = url.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null
  return new Worker(BOOTSTRAP, { eval: true, workerData: { url: url.href, tsx, data, nice }, resourceLimits })
}

/** Ask a worker to stop (it finishes what it must and exits), and end it after `graceMs` if it has not. */
export async function stopWorker(worker: Worker, stop: unknown, graceMs = 5000): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  worker.postMessage(stop)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))])
  clearTimeout(timer)
  await worker.terminate()
}
