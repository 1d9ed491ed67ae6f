import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

const SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

/** What the journal committer puts on /metrics: its commits, syncs, refusals and queue. */
export interface JournalMetrics {
  readonly commitSeconds: Histogram
  readonly syncSeconds: Histogram
  readonly batchSize: Histogram
  readonly committed: Counter<'kind'>
  readonly refused: Counter
  readonly lockWaits: Counter
}

/** `queue` is read at scrape time: its depth and the receive time of its oldest item (ms). */
export function journalMetrics(
  registry: Registry,
  queue: () => { readonly depth: number; readonly oldestEnqueuedAt: number | null },
  now: () => number,
): JournalMetrics {
  const registers = [registry]
  new Gauge({
    name: 'carehub_journal_queue_depth',
    help: 'Items waiting for the next journal commit',
    registers,
    collect() {
      this.set(queue().depth)
    },
  })
  new Gauge({
    name: 'carehub_journal_queue_oldest_seconds',
    help: 'Age of the oldest item waiting for a commit',
    registers,
    collect() {
      const oldest = queue().oldestEnqueuedAt
      this.set(oldest === null ? 0 : (now() - oldest) / 1000)
    },
  })
  return {
    commitSeconds: new Histogram({
      name: 'carehub_journal_commit_seconds',
      help: 'Duration of one journal transaction (group commit), fsync included',
      buckets: SECONDS,
      registers,
    }),
    syncSeconds: new Histogram({
      name: 'carehub_journal_sync_seconds',
      help: 'Duration of one fdatasync of the journal WAL (acknowledgements wait for it)',
      buckets: SECONDS,
      registers,
    }),
    batchSize: new Histogram({
      name: 'carehub_journal_batch_size',
      help: 'Items per journal transaction',
      buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000],
      registers,
    }),
    committed: new Counter({ name: 'carehub_journal_committed_total', help: 'Items committed to the journal', labelNames: ['kind'], registers }),
    refused: new Counter({
      name: 'carehub_journal_refused_total',
      help: 'Items refused because the queue was full or the store failed',
      registers,
    }),
    lockWaits: new Counter({
      name: 'carehub_journal_lock_busy_total',
      help: 'Group commits put off for a moment because another connection held the write lock',
      registers,
    }),
  }
}
