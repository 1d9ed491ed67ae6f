import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Worker } from 'node:worker_threads'
import type { ToBrokerWorker } from '../../../gateway/src/broker/broker-protocol.js'
import { SettledPublishes } from '../../../gateway/src/broker/settled-publishes.js'

test('ids settled together go to the worker in one message, before anything the loop runs next (the journal’s next commit)', async () => {
  const order: string[] = []
  const sent: ToBrokerWorker[] = []
  const worker = {
    postMessage: (m: ToBrokerWorker) => {
      sent.push(m)
      order.push('posted')
    },
  } as unknown as Worker
  const settled = new SettledPublishes(worker)
  setImmediate(() => order.push('next turn'))
  // As a WAL sync releases them: resolved in one go, each settled a few promise hops later.
  const stored = [1, 2, 3].map((id) => {
    let resolve = () => {}
    void new Promise<void>((r) => {
      resolve = r
    })
      .then(() => undefined)
      .then(() => (id === 2 ? settled.failed(2, 'journal queue full') : settled.ok(id)))
    return resolve
  })
  for (const resolve of stored) resolve()
  assert.equal(sent.length, 0, 'nothing before the microtasks have run')
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(order, ['posted', 'next turn'])
  assert.deepEqual(sent, [{ type: 'settled', ok: [1, 3], failed: [[2, 'journal queue full']] }])
})

test('a worker that died meanwhile is not an error: its devices resend to the next one', async () => {
  const worker = {
    postMessage: () => {
      throw new Error('worker is gone')
    },
  } as unknown as Worker
  new SettledPublishes(worker).ok(1)
  await new Promise((r) => setImmediate(r))
})
