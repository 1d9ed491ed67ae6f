import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { SinkFailureKind } from './sink.js'

/** The forwarder's /metrics (DESIGN invariant 3: every queue shows its depth and oldest age). */
export class ForwarderMetrics {
  readonly #sink: string
  readonly #forwarded: Counter<'sink'>
  readonly #refused: Counter<'sink'>
  readonly #failures: Counter<'sink' | 'kind'>
  readonly #writeSeconds: Histogram<'sink'>
  readonly #lastSuccess: Gauge<'sink'>

  constructor(registry: Registry, sink: string, probe: { depth(): number; oldestAgeMs(): number }) {
    this.#sink = sink
    const registers = [registry]
    this.#forwarded = new Counter({
      name: 'carehub_timeseries_points_forwarded_total',
      help: 'Points the time-series server accepted',
      labelNames: ['sink'],
      registers,
    })
    this.#refused = new Counter({
      name: 'carehub_timeseries_points_failed_total',
      help: 'Points the time-series server refused (moved to dead letters)',
      labelNames: ['sink'],
      registers,
    })
    this.#failures = new Counter({
      name: 'carehub_timeseries_write_failures_total',
      help: 'Failed write attempts by kind (unavailable, unauthorized, misconfigured, rejected)',
      labelNames: ['sink', 'kind'],
      registers,
    })
    this.#writeSeconds = new Histogram({
      name: 'carehub_timeseries_batch_seconds',
      help: 'Time to write one batch, splits included',
      labelNames: ['sink'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    })
    this.#lastSuccess = new Gauge({
      name: 'carehub_timeseries_last_success_timestamp_seconds',
      help: 'When the time-series server last accepted a batch (0: never)',
      labelNames: ['sink'],
      registers,
    })
    this.#lastSuccess.set({ sink }, 0)
    new Gauge({
      name: 'carehub_timeseries_queue_depth',
      help: 'Journal entries not yet forwarded',
      labelNames: ['sink'],
      registers,
      collect() {
        this.set({ sink }, probe.depth())
      },
    })
    new Gauge({
      name: 'carehub_timeseries_oldest_unforwarded_seconds',
      help: 'Age (by receipt time) of the oldest journal entry not yet forwarded',
      labelNames: ['sink'],
      registers,
      collect() {
        this.set({ sink }, probe.oldestAgeMs() / 1000)
      },
    })
  }

  written(accepted: number, refused: number, seconds: number, now: number): void {
    const sink = this.#sink
    this.#forwarded.inc({ sink }, accepted)
    if (refused) this.#refused.inc({ sink }, refused)
    this.#writeSeconds.observe({ sink }, seconds)
    this.#lastSuccess.set({ sink }, now / 1000)
  }

  failure(kind: SinkFailureKind): void {
    this.#failures.inc({ sink: this.#sink, kind })
  }
}
