import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DurableAcks } from '../../../gateway/src/store/durable-acks.js'

/** DurableAcks over a sync the test ends by hand, with `overlap` syncs allowed at once. */
function setup(overlap: number) {
  const syncs: Array<(err: Error | null) => void> = []
  const told: string[] = []
  const acks = new DurableAcks(
    (done) => void syncs.push(done),
    () => {},
    overlap,
  )
  const add = (name: string) => acks.add({ durable: () => told.push(`${name} durable`), failed: (e) => told.push(`${name} ${e.message}`) })
  const transient = () => Object.assign(new Error('EMFILE'), { transient: true })
  return { acks, syncs, told, add, transient }
}

describe('DurableAcks with overlapping syncs', () => {
  test('a sync starts for each group while a slot is free; then groups wait and share the next one', () => {
    const { acks, syncs, add } = setup(2)
    add('a')
    add('b')
    assert.equal(syncs.length, 2)
    assert.equal(acks.saturated, true)
    add('c')
    add('d')
    assert.equal(syncs.length, 2, 'no third sync at once')
    syncs[0]?.(null)
    assert.equal(syncs.length, 3, 'one sync for c and d once a slot frees')
  })

  test('a later sync that ends first answers for the earlier one too, in commit order; the earlier one then tells nothing', () => {
    const { syncs, told, add } = setup(2)
    add('a')
    add('b')
    syncs[1]?.(null)
    assert.deepEqual(told, ['a durable', 'b durable'])
    syncs[0]?.(null)
    assert.deepEqual(told, ['a durable', 'b durable'])
  })

  test('a sync answered for by a later one still holds its slot until it really ends', () => {
    const { acks, syncs, add } = setup(2)
    add('a')
    add('b')
    syncs[1]?.(null)
    add('c')
    assert.equal(syncs.length, 3, 'one slot free: c syncs at once')
    add('d')
    assert.equal(syncs.length, 3, 'a’s sync still runs: d waits, as the syncer has only two descriptors')
    assert.equal(acks.saturated, true)
    syncs[0]?.(null)
    assert.equal(syncs.length, 4)
  })

  test('an earlier sync that ends first answers only for its own groups', () => {
    const { syncs, told, add } = setup(2)
    add('a')
    add('b')
    syncs[0]?.(null)
    assert.deepEqual(told, ['a durable'])
    syncs[1]?.(null)
    assert.deepEqual(told, ['a durable', 'b durable'])
  })

  test('a final failure fails every group in flight and waiting, even those a later sync reports synced', async () => {
    const { acks, syncs, told, add } = setup(2)
    add('a')
    add('b')
    add('c')
    syncs[0]?.(new Error('EIO'))
    assert.deepEqual(told.slice(0, 2), ['a EIO', 'b EIO'], 'b’s sync is still running: its success could not be trusted')
    syncs[1]?.(null)
    await acks.drain()
    assert.deepEqual(told, ['a EIO', 'b EIO', 'c EIO'])
    assert.equal(syncs.length, 2, 'no sync after the failure')
    assert.equal(acks.failure?.message, 'EIO')
  })

  test('a transient failure (nothing synced) fails its own groups only; the sync before it still answers for its own', () => {
    const { acks, syncs, told, add, transient } = setup(2)
    add('a')
    add('b')
    syncs[1]?.(transient())
    assert.deepEqual(told, ['b EMFILE'])
    syncs[0]?.(null)
    assert.deepEqual(told, ['b EMFILE', 'a durable'])
    assert.equal(acks.failure, null)
  })

  test('drain waits for every sync still running, even one a later sync answered for (the syncer may close after it)', async () => {
    const { acks, syncs, told, add } = setup(2)
    add('a')
    add('b')
    let drained = false
    void acks.drain().then(() => {
      drained = true
    })
    syncs[1]?.(null)
    await new Promise((r) => setImmediate(r))
    assert.equal(drained, false)
    syncs[0]?.(null)
    await new Promise((r) => setImmediate(r))
    assert.equal(drained, true)
    assert.deepEqual(told, ['a durable', 'b durable'])
  })

  test('a sync callback called twice counts once: the slot is freed once and drain still resolves', async () => {
    const { acks, syncs, told, add } = setup(1)
    add('a')
    syncs[0]?.(null)
    syncs[0]?.(null)
    add('b')
    assert.equal(acks.saturated, true, 'b’s sync holds the only slot')
    add('c')
    assert.equal(syncs.length, 2, 'c waits: the second call freed no slot')
    syncs[1]?.(null)
    syncs[2]?.(null)
    await acks.drain()
    assert.deepEqual(told, ['a durable', 'b durable', 'c durable'])
  })

  test('overlap below 1 is refused', () => {
    assert.throws(
      () =>
        new DurableAcks(
          () => {},
          () => {},
          0,
        ),
      RangeError,
    )
  })
})
