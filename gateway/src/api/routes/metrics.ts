import { getRequestIP, type H3, HTTPError } from 'h3'
import type { Metrics } from '../../system/metrics.js'
import { isLoopback } from '../_internal/loopback.js'

/**
 * GET /metrics — Prometheus text exposition. CONTRACT: loopback or authenticated. Until the auth
 * issue lands there is no way to authenticate, so remote scrapers are refused with a reason
 * (scrape through an SSH tunnel or a local agent meanwhile).
 */
export function metricsRoutes(app: H3, deps: { metrics: Metrics }): void {
  app.get('/metrics', async (event) => {
    if (!isLoopback(getRequestIP(event))) {
      throw new HTTPError({ status: 403, message: '/metrics is served to loopback clients only until API authentication is configured' })
    }
    return new Response(await deps.metrics.registry.metrics(), { headers: { 'content-type': deps.metrics.registry.contentType } })
  })
}
