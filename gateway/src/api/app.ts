import { bodyLimit, H3 } from 'h3'
import type { Logger } from 'pino'
import type { AuthService } from '../auth/auth-service.js'
import type { Clock } from '../core/clock.js'
import type { HealthRegistry } from '../system/health.js'
import type { Metrics } from '../system/metrics.js'
import type { RecentErrors } from '../system/recent-errors.js'
import type { RecentLogs } from '../system/recent-logs.js'
import { authenticate } from './_internal/authenticate.js'
import { problemResponse, toProblem } from './_internal/problem.js'
import { recordResponse, requestContext } from './_internal/request-context.js'
import { userRateLimit } from './_internal/user-rate-limit.js'
import { openApiDocument } from './openapi.js'
import { adminRoutes } from './routes/admin.js'
import { type AlertRouteDeps, alertRoutes } from './routes/alerts.js'
import { authRoutes } from './routes/auth.js'
import { type AutomationRouteDeps, automationRoutes } from './routes/automations.js'
import { type DeviceCommandRouteDeps, deviceCommandRoutes } from './routes/device-commands.js'
import { type DeviceRouteDeps, deviceRoutes } from './routes/devices.js'
import { healthRoutes } from './routes/health.js'
import { type IngestHaDeps, ingestHaRoutes } from './routes/ingest-ha.js'
import { metricsRoutes } from './routes/metrics.js'
import { type TelemetryRouteDeps, telemetryRoutes } from './routes/telemetry.js'
import { userRoutes } from './routes/users.js'

export interface ApiDeps {
  readonly log: Logger
  readonly clock: Clock
  readonly metrics: Metrics
  readonly health: HealthRegistry
  readonly version: string
  readonly startedAt: number
  readonly bodyLimitBytes: number
  readonly recentErrors: RecentErrors
  readonly gatewayId: () => string
  readonly devices: DeviceRouteDeps
  readonly commands: DeviceCommandRouteDeps['commands']
  readonly telemetry: TelemetryRouteDeps
  readonly automations: AutomationRouteDeps
  readonly alerts: AlertRouteDeps
  readonly ingestHa: IngestHaDeps
  readonly auth: AuthService
  readonly recentLogs: RecentLogs
  readonly apiRateLimit: { readonly burst: number; readonly perSecond: number }
}

/**
 * Build the HTTP application (fastify's `build(deps)` apart from `listen`): tests call
 * `app.request()` in-process; the HTTPS server only mounts it.
 */
export function buildApp(deps: ApiDeps): H3 {
  const app = new H3({
    silent: true,
    onError(error, event) {
      const problem = toProblem(error, event.context.requestId)
      const log = event.context.log ?? deps.log
      if (problem.status >= 500) log.error({ err: error.cause ?? error }, 'request error')
      const response = problemResponse(problem)
      // Headers meant for error responses (WWW-Authenticate, …) — h3 applies them only to its own.
      for (const [name, value] of event.res.errHeaders) response.headers.set(name, value)
      return response
    },
    onResponse(response, event) {
      recordResponse(event, response.status, deps.metrics)
    },
  })
  app.use(requestContext(deps.log))
  // Counted as the body streams in; an honest oversized Content-Length is refused with 413 up-front.
  app.use(bodyLimit(deps.bodyLimitBytes))
  healthRoutes(app, {
    health: deps.health,
    recentErrors: deps.recentErrors,
    version: deps.version,
    startedAt: deps.startedAt,
    now: () => deps.clock.now(),
    gatewayId: deps.gatewayId,
  })
  metricsRoutes(app, { metrics: deps.metrics, auth: deps.auth })
  app.use('/api/**', authenticate(deps.auth))
  app.use('/api/**', userRateLimit({ burst: deps.apiRateLimit.burst, perSecond: deps.apiRateLimit.perSecond, clock: deps.clock }))
  authRoutes(app, { auth: deps.auth })
  deviceRoutes(app, deps.devices)
  deviceCommandRoutes(app, { db: deps.devices.db, commands: deps.commands })
  telemetryRoutes(app, deps.telemetry)
  automationRoutes(app, deps.automations)
  alertRoutes(app, deps.alerts)
  ingestHaRoutes(app, deps.ingestHa)
  userRoutes(app, { db: deps.devices.db, clock: deps.clock, auth: deps.auth })
  adminRoutes(app, { db: deps.devices.db, recentLogs: deps.recentLogs })
  const openapi = JSON.stringify(openApiDocument(deps.version))
  app.get('/api/openapi.json', () => new Response(openapi, { headers: { 'content-type': 'application/json' } }))
  return app
}
