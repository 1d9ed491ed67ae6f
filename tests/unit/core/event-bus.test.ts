import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { EventBus } from '../../../gateway/src/core/event-bus.js'
import { captureLogger } from '../../_support/log-capture.js'

interface TestEvents {
  tick: { n: number }
  other: string
}

function newBus() {
  const { log, lines } = captureLogger()
  return { bus: new EventBus<TestEvents>(log), lines }
}

const failures = (lines: () => Array<Record<string, unknown>>) => lines().filter((l) => l.msg === 'event listener failed')

describe('EventBus', () => {
  test('listeners receive every payload, in emit order, in registration order', () => {
    const { bus } = newBus()
    const seen: string[] = []
    bus.on('tick', (p) => void seen.push(`a${p.n}`))
    bus.on('tick', (p) => void seen.push(`b${p.n}`))
    bus.on('tick', (p) => void seen.push(`c${p.n}`))
    bus.emit('tick', { n: 1 })
    bus.emit('tick', { n: 2 })
    assert.deepEqual(seen, ['a1', 'b1', 'c1', 'a2', 'b2', 'c2'])
  })

  test('listeners get the payload object itself, and only for their event', () => {
    const { bus } = newBus()
    const payload = { n: 7 }
    const ticks: Array<{ n: number }> = []
    const others: string[] = []
    bus.on('tick', (p) => void ticks.push(p))
    bus.on('other', (p) => void others.push(p))
    bus.emit('tick', payload)
    bus.emit('other', 'hello')
    assert.equal(ticks.length, 1)
    assert.equal(ticks[0], payload)
    assert.deepEqual(others, ['hello'])
  })

  test('emitting an event nobody listens to is a no-op', () => {
    const { bus, lines } = newBus()
    assert.doesNotThrow(() => bus.emit('other', 'nobody'))
    assert.deepEqual(lines(), [])
  })

  test('a listener throwing synchronously is logged and does not stop later listeners or the emitter', () => {
    const { bus, lines } = newBus()
    const seen: number[] = []
    bus.on('tick', (p) => void seen.push(p.n))
    bus.on('tick', () => {
      throw new Error('sync boom')
    })
    bus.on('tick', (p) => void seen.push(p.n * 10))
    assert.doesNotThrow(() => bus.emit('tick', { n: 3 }))
    assert.deepEqual(seen, [3, 30])
    const logged = failures(lines)
    assert.equal(logged.length, 1)
    assert.equal(logged[0]?.level, 'error')
    assert.equal(logged[0]?.event, 'tick')
    assert.equal((logged[0]?.err as { message?: string } | undefined)?.message, 'sync boom')
  })

  test('a listener rejecting asynchronously is logged and does not stop later listeners or the emitter', async () => {
    const { bus, lines } = newBus()
    const seen: number[] = []
    bus.on('tick', async () => {
      await nextTurn()
      throw new Error('async boom')
    })
    bus.on('tick', (p) => void seen.push(p.n))
    assert.doesNotThrow(() => bus.emit('tick', { n: 4 }))
    assert.deepEqual(seen, [4], 'the listener after the async one ran synchronously, during emit')
    await nextTurn()
    await nextTurn()
    const logged = failures(lines)
    assert.equal(logged.length, 1)
    assert.equal(logged[0]?.level, 'error')
    assert.equal(logged[0]?.event, 'tick')
    assert.equal((logged[0]?.err as { message?: string } | undefined)?.message, 'async boom')
  })

  test('both kinds of failure in one emit are each logged, and the bus keeps working afterwards', async () => {
    const { bus, lines } = newBus()
    const seen: number[] = []
    bus.on('tick', () => {
      throw new Error('one')
    })
    bus.on('tick', () => Promise.reject(new Error('two')))
    bus.on('tick', (p) => void seen.push(p.n))
    bus.emit('tick', { n: 1 })
    bus.emit('tick', { n: 2 })
    await nextTurn()
    assert.deepEqual(seen, [1, 2])
    const messages = failures(lines).map((l) => (l.err as { message: string }).message)
    assert.deepEqual(messages.sort(), ['one', 'one', 'two', 'two'])
  })

  test('a listener that succeeds, sync or async, logs nothing', async () => {
    const { bus, lines } = newBus()
    bus.on('tick', () => undefined)
    bus.on('tick', async () => undefined)
    bus.emit('tick', { n: 1 })
    await nextTurn()
    assert.deepEqual(failures(lines), [])
  })

  test('the unsubscribe function stops delivery to that listener only', () => {
    const { bus } = newBus()
    const a: number[] = []
    const b: number[] = []
    const offA = bus.on('tick', (p) => void a.push(p.n))
    bus.on('tick', (p) => void b.push(p.n))
    bus.emit('tick', { n: 1 })
    offA()
    bus.emit('tick', { n: 2 })
    assert.deepEqual(a, [1])
    assert.deepEqual(b, [1, 2])
  })

  test('unsubscribing twice is harmless', () => {
    const { bus } = newBus()
    const off = bus.on('tick', () => undefined)
    bus.on('tick', () => undefined)
    off()
    off()
    assert.equal(bus.listenerCount('tick'), 1)
  })

  test('listenerCount follows on/unsubscribe per event', () => {
    const { bus } = newBus()
    assert.equal(bus.listenerCount('tick'), 0)
    const off1 = bus.on('tick', () => undefined)
    const off2 = bus.on('tick', () => undefined)
    bus.on('other', () => undefined)
    assert.equal(bus.listenerCount('tick'), 2)
    assert.equal(bus.listenerCount('other'), 1)
    off1()
    assert.equal(bus.listenerCount('tick'), 1)
    off2()
    assert.equal(bus.listenerCount('tick'), 0)
    assert.equal(bus.listenerCount('other'), 1)
  })
})
