import parsePrometheusTextFormat from 'parse-prometheus-text-format'

export interface MetricFamily {
  readonly name: string
  readonly help: string
  readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
  readonly metrics: ReadonlyArray<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>
}

/** Parse Prometheus text exposition with an independent parser (not prom-client, which produced it). */
export function parsePrometheus(text: string): MetricFamily[] {
  return (parsePrometheusTextFormat as unknown as (t: string) => MetricFamily[])(text)
}
