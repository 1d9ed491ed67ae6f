import { getRequestIP, type H3 } from 'h3'
import type { HealthRegistry } from '../../system/health.js'
import type { RecentErrors } from '../../system/recent-errors.js'
import { isLoopback } from '../_internal/loopback.js'

/**
 * GET /health — liveness: the process answers; no auth, no dependencies (systemd/k8s restart on
 * failure). GET /health/ready — readiness with per-dependency status; 503 while a critical part is
 * down. Both unauthenticated by CONTRACT; they reveal no personal data. Loopback callers (the
 * `carehub status` command on the box) also get the last error lines, which may name internals.
 */
export interface HealthRouteDeps {
  readonly health: HealthRegistry
  readonly recentErrors: RecentErrors
  readonly version: string
  readonly startedAt: number
  readonly now: () => number
  readonly gatewayId: () => string
}

export function healthRoutes(app: H3, deps: HealthRouteDeps): void {
  app.get('/health', () => ({ status: 'ok', version: deps.version, uptimeSeconds: Math.round((deps.now() - deps.startedAt) / 1000) }))
  app.get('/health/ready', async (event) => {
    const report = await deps.health.report()
    event.res.status = report.status === 'down' ? 503 : 200
    event.res.headers.set('cache-control', 'no-store')
    if (!isLoopback(getRequestIP(event))) return report
    return {
      ...report,
      gateway: { id: deps.gatewayId(), version: deps.version, startedAt: new Date(deps.startedAt).toISOString() },
      lastErrors: deps.recentErrors.list(),
    }
  })
}
