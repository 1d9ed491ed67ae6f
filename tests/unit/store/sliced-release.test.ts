import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SlicedRelease } from '../../../gateway/src/store/sliced-release.js'

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('sliced release: acknowledgements a slice per event-loop turn', () => {
  test('the first slice runs at once, the rest a slice per turn, with the loop free in between', async () => {
    const release = new SlicedRelease(3)
    const calls: string[] = []
    release.add(7, (i) => calls.push(`a${i}`))
    assert.deepEqual(calls, ['a0', 'a1', 'a2'], 'first slice synchronously')
    assert.equal(release.pending, 4)
    // Queued now, this runs before the release is done: other I/O gets its turn between slices.
    setImmediate(() => calls.push('other'))
    await release.drained()
    assert.deepEqual(calls, ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'other', 'a6'])
    assert.equal(release.pending, 0)
  })

  test('order is kept across batches: a later batch never overtakes the tail of an earlier one', async () => {
    const release = new SlicedRelease(2)
    const calls: string[] = []
    release.add(3, (i) => calls.push(`a${i}`))
    release.add(2, (i) => calls.push(`b${i}`))
    assert.deepEqual(calls, ['a0', 'a1'], 'the second batch waits, even though the first slice had room left after it')
    await turn()
    assert.deepEqual(calls, ['a0', 'a1', 'a2', 'b0'], 'a slice continues into the next batch')
    await release.drained()
    assert.deepEqual(calls, ['a0', 'a1', 'a2', 'b0', 'b1'])
  })

  test('a batch added from inside a callback queues behind what is already waiting', async () => {
    const release = new SlicedRelease(10)
    const calls: string[] = []
    release.add(2, (i) => {
      calls.push(`a${i}`)
      if (i === 0) release.add(1, () => calls.push('nested'))
    })
    await release.drained()
    assert.deepEqual(calls, ['a0', 'a1', 'nested'])
  })

  test('drained resolves at once when nothing waits, and after the last callback otherwise', async () => {
    const release = new SlicedRelease(1)
    await release.drained()
    let done = 0
    release.add(3, () => done++)
    release.add(0, () => assert.fail('an empty batch calls nothing'))
    await release.drained()
    assert.equal(done, 3)
  })

  test('refuses a slice size below 1', () => {
    assert.throws(() => new SlicedRelease(0), RangeError)
    assert.throws(() => new SlicedRelease(Number.NaN), RangeError)
  })
})
