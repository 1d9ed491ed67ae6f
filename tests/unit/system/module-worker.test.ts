import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { BACKGROUND_NICE, startModuleWorker } from '../../../gateway/src/system/module-worker.js'
import { niceOf, threadNices } from '../../_support/thread-nice.js'

const FIXTURE = new URL('../../_support/thread-nice-worker.ts', import.meta.url)

/** Start the fixture worker and take its report (its own thread's nice value) and the process's threads meanwhile. */
async function run(nice?: number): Promise<{ reported: number; threads: Map<string, number> }> {
  const worker = startModuleWorker(FIXTURE, null, {}, nice)
  try {
    const [reported] = (await once(worker, 'message')) as [number]
    return { reported, threads: threadNices() }
  } finally {
    await worker.terminate()
  }
}

describe('startModuleWorker: a worker’s nice value', { skip: process.platform !== 'linux' && 'nice is per thread on Linux only' }, () => {
  test('lowers the priority of the worker’s own thread only, never the process’s', async () => {
    const before = threadNices()
    const { reported, threads } = await run(BACKGROUND_NICE)
    const base = niceOf('/proc/self/stat')
    assert.equal(reported, Math.min(19, base + BACKGROUND_NICE), 'the worker thread runs lowered by the value asked for')
    // Every thread that was there before (the main thread, libuv's pool, V8's helpers) keeps its
    // value. Threads the worker starts inherit its value (tsx's loader-hooks thread, in tests).
    for (const [tid, nice] of before) if (threads.has(tid)) assert.equal(threads.get(tid), nice, `thread ${tid} kept its priority`)
    assert.equal(niceOf('/proc/self/stat'), before.get(String(process.pid)), 'the main thread keeps its priority')
  })

  test('a worker started without one runs at the process’s priority', async () => {
    const { reported } = await run()
    assert.equal(reported, niceOf('/proc/self/stat'))
  })
})
