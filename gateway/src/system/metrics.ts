import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'

/**
 * The Prometheus registry of this gateway instance (never prom-client's global one, so two
 * gateways in one test process do not share counters). Default metrics include process CPU/RSS and
 * event-loop delay percentiles (nodejs_eventloop_lag_p99_seconds).
 */
export class Metrics {
  readonly registry = new Registry()
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>

  constructor(labels: Record<string, string>) {
    this.registry.setDefaultLabels(labels)
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 })
    this.httpDuration = new Histogram({
      name: 'carehub_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    })
  }
}
