import type { HealthCheck, ServiceHealth } from '../core/service.js'

export interface HealthReport {
  readonly status: 'ok' | 'degraded' | 'down'
  readonly checks: Record<string, ServiceHealth & { critical: boolean }>
}

/**
 * Readiness: every part registers a check. The box is `down` (503) when a critical check is not ok,
 * `degraded` (still 200: ingest and the panel go on, DESIGN invariant 4) when only an optional
 * upstream such as InfluxDB or the cloud is not ok.
 */
export class HealthRegistry {
  readonly #checks: HealthCheck[] = []

  add(check: HealthCheck): void {
    this.#checks.push(check)
  }

  async report(): Promise<HealthReport> {
    const checks: HealthReport['checks'] = {}
    let status: HealthReport['status'] = 'ok'
    for (const c of this.#checks) {
      let result: ServiceHealth
      try {
        result = await c.check()
      } catch (err) {
        result = { status: 'down', detail: (err as Error).message }
      }
      checks[c.name] = { ...result, critical: c.critical }
      if (result.status !== 'ok') status = c.critical ? 'down' : status === 'down' ? 'down' : 'degraded'
    }
    return { status, checks }
  }
}
