import { TIERS } from './rollup-fold.js'

/** A fold writing at least this many bucket rows holds the store's write lock ~10 ms or more. */
export const WIDE_FOLD_BUCKETS = 2000
/** Below this many updates per bucket written, folding more often writes no more rows in all. */
const SHARED_UPDATES_PER_BUCKET = 2
/** How much more often a wide fold with nothing shared runs; and never more often than this. */
const SPEED_UP = 5
const MIN_FLUSH_MS = 200

/**
 * When to fold next, from what the last fold wrote. A fold writes every bucket it touched in one
 * transaction holding the store's one write lock, which the journal's commits (so the PUBACKs)
 * wait for. Its length follows the bucket rows, and how many depends on the fleet: 100 devices at
 * 10 readings/s touch the same ~1,800 buckets all the time (each updated ~50 times per 5-second
 * fold: folding less often saves rows), while 1,000 devices reporting every 10 s touch ~9,000
 * buckets per 5 s, each once (the bench's W3 at 0.1 msg/s: a ~50 ms hold, PUBACK p99 42–67 ms).
 * There, folding five times as often writes the same rows in all, in transactions a fifth as long.
 */
export function nextFoldDelay(last: { readonly buckets: number; readonly values: number } | null, flushMs: number): number {
  if (!last || last.buckets < WIDE_FOLD_BUCKETS) return flushMs
  const updatesPerBucket = (last.values * TIERS.length) / last.buckets
  return updatesPerBucket < SHARED_UPDATES_PER_BUCKET ? Math.max(MIN_FLUSH_MS, Math.round(flushMs / SPEED_UP)) : flushMs
}
