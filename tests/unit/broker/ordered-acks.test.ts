import assert from 'node:assert/strict'
import { test } from 'node:test'
import { OrderedAcks } from '../../../gateway/src/broker/ordered-acks.js'

function recorder() {
  const released: string[] = []
  const entry = (name: string) => ({
    resolve: () => released.push(`${name} acked`),
    reject: (e: Error) => released.push(`${name} refused: ${e.message}`),
  })
  return { released, entry }
}

test('publishes settled out of order are released in their connection’s order [MQTT-4.6.0-2]', () => {
  const acks = new OrderedAcks<object>()
  const conn = {}
  const { released, entry } = recorder()
  const reading = acks.add(conn, entry('reading'))
  const status = acks.add(conn, entry('status'))
  const result = acks.add(conn, entry('command result'))
  status(null)
  result(null)
  assert.deepEqual(released, [], 'the status was stored at once, but the reading before it is not yet')
  reading(null)
  assert.deepEqual(released, ['reading acked', 'status acked', 'command result acked'])
  assert.equal(acks.size, 0, 'nothing kept once released')
})

test('a refusal is released in its turn too; connections do not wait for each other; a second settle is ignored', () => {
  const acks = new OrderedAcks<object>()
  const a = {}
  const b = {}
  const { released, entry } = recorder()
  const a1 = acks.add(a, entry('a1'))
  const a2 = acks.add(a, entry('a2'))
  const b1 = acks.add(b, entry('b1'))
  b1(null)
  assert.deepEqual(released, ['b1 acked'], 'b is not held behind a')
  a2(null)
  a1(new Error('journal full'))
  a1(null)
  assert.deepEqual(released, ['b1 acked', 'a1 refused: journal full', 'a2 acked'])
  assert.equal(acks.size, 0)
})
