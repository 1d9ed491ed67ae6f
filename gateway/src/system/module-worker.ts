import { type ResourceLimits, Worker } from 'node:worker_threads'

/**
 * Bootstrap of a worker that runs one of our own modules. Compiled (production) the module is .js
 * and is imported as is. From source (the tests run TypeScript through tsx) a worker does not
 * inherit the parent's `--import tsx` loader, so the bootstrap registers tsx itself first.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads')
;(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register()
  await import(workerData.url)
})()
`

/** The sibling module `name` (without extension) of the module at `base`, as the same kind (.js or .ts). */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base)
}

/**
 * A small young generation for a background worker. V8 grows each isolate's semi-spaces up to 16 MB
 * (32 MB resident, per thread) when it allocates steadily; a worker that folds or checkpoints
 * off the event loop does not need that headroom: more frequent scavenges cost it little, and they
 * run on its own thread. Only the young generation is capped (an old-generation cap would end the
 * worker with ERR_WORKER_OUT_OF_MEMORY).
 */
export const BACKGROUND_WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 3 }

/** Start a worker thread running the ES module at `url`; `data` reaches it as workerData.data. */
export function startModuleWorker(url: URL, data: unknown, resourceLimits: ResourceLimits = BACKGROUND_WORKER_LIMITS): Worker {
  const tsx = url.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null
  return new Worker(BOOTSTRAP, { eval: true, workerData: { url: url.href, tsx, data }, resourceLimits })
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
