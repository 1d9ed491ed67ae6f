import type { H3 } from 'h3'
import type { HealthRegistry } from '../../system/health.js'

/**
 * GET /health — liveness: the process answers; no auth, no dependencies (systemd/k8s restart on
 * failure). GET /health/ready — readiness with per-dependency status; 503 while a critical part is
 * down. Both unauthenticated by CONTRACT; they reveal no personal data.
 */
export function healthRoutes(app: H3, deps: { health: HealthRegistry; version: string; startedAt: number; now: () => number }): void {
  app.get('/health', () => ({ status: 'ok', version: deps.version, uptimeSeconds: Math.round((deps.now() - deps.startedAt) / 1000) }))
  app.get('/health/ready', async (event) => {
    const report = await deps.health.report()
    event.res.status = report.status === 'down' ? 503 : 200
    event.res.headers.set('cache-control', 'no-store')
    return report
  })
}
