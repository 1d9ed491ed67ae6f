import { Worker } from 'node:worker_threads'

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

/** Start a worker thread running the ES module at `url`; `data` reaches it as workerData.data. */
export function startModuleWorker(url: URL, data: unknown): Worker {
  const tsx = url.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null
  return new Worker(BOOTSTRAP, { eval: true, workerData: { url: url.href, tsx, data } })
}
