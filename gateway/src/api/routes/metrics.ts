import { getRequestIP, type H3 } from 'h3'
import type { AuthService } from '../../auth/auth-service.js'
import type { Metrics } from '../../system/metrics.js'
import { principalOf, requirePermission } from '../_internal/authenticate.js'
import { isLoopback } from '../_internal/loopback.js'

/**
 * GET /metrics — Prometheus text exposition. CONTRACT: loopback, or authenticated with the
 * metrics:read permission (a bearer token, e.g. an installer's).
 */
export function metricsRoutes(app: H3, deps: { metrics: Metrics; auth: AuthService }): void {
  app.get('/metrics', async (event) => {
    if (!isLoopback(getRequestIP(event))) {
      event.context.principal = await principalOf(event, deps.auth)
      requirePermission(event, 'metrics:read')
    }
    return new Response(await deps.metrics.registry.metrics(), { headers: { 'content-type': deps.metrics.registry.contentType } })
  })
}
