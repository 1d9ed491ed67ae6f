import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** What the rules engine puts on /metrics. */
export interface RuleMetrics {
  readonly evaluated: Counter
  readonly fired: Counter<'rule'>
  readonly stopped: Counter<'rule'>
  readonly alertLatency: Histogram
}

/** `lag` is read at scrape time: journal entries not yet evaluated. */
export function ruleMetrics(registry: Registry, lag: () => number): RuleMetrics {
  const registers = [registry]
  new Gauge({
    name: 'carehub_rules_lag_entries',
    help: 'Journal entries not yet evaluated by the rules engine',
    registers,
    collect() {
      this.set(lag())
    },
  })
  return {
    evaluated: new Counter({ name: 'carehub_rules_readings_evaluated_total', help: 'Journal entries the rules engine evaluated', registers }),
    fired: new Counter({ name: 'carehub_rules_fired_total', help: 'Rule firings', labelNames: ['rule'], registers }),
    stopped: new Counter({
      name: 'carehub_rules_evaluation_errors_total',
      help: 'Rules stopped because evaluating them threw (until edited or restarted)',
      labelNames: ['rule'],
      registers,
    }),
    alertLatency: new Histogram({
      name: 'carehub_rules_alert_latency_seconds',
      help: 'From a reading reaching the box to the alert it raised being stored and announced',
      buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  }
}
