import assert from 'node:assert/strict'
import { test } from 'node:test'
import { nextFoldDelay, WIDE_FOLD_BUCKETS } from '../../../gateway/src/timeseries/rollup-cadence.js'

test('a wide fold whose buckets were each touched about once is followed five times sooner; otherwise the configured period', () => {
  assert.equal(nextFoldDelay(null, 5000), 5000, 'nothing folded yet')
  // 1,000 devices × 6 fields reporting once per 10 s, folded every 5 s: 500 readings, 9,000 buckets.
  assert.equal(nextFoldDelay({ buckets: 9000, values: 3000 }, 5000), 1000)
  // 100 devices × 6 fields at 10 readings/s: 5,000 readings, the same 1,800 buckets over and over.
  assert.equal(nextFoldDelay({ buckets: 1800, values: 30_000 }, 5000), 5000, 'narrow: not worth a transaction more')
  // Wide, but each bucket shared by several readings: folding less often saves rows.
  assert.equal(nextFoldDelay({ buckets: 6000, values: 6000 }, 5000), 5000)
  assert.equal(nextFoldDelay({ buckets: WIDE_FOLD_BUCKETS, values: WIDE_FOLD_BUCKETS / 3 }, 5000), 1000)
  assert.equal(nextFoldDelay({ buckets: 9000, values: 3000 }, 500), 200, 'never more often than every 200 ms')
})
