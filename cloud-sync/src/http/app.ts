import { bodyLimit, H3 } from 'h3'
import type { Pool } from 'mysql2/promise'
import type { Logger } from 'pino'
import type { CredentialBox } from '../crypto/credential-box.js'
import { adminRoutes } from '../routes/admin.js'
import { enrolRoutes } from '../routes/enrol.js'
import { guardianRoutes } from '../routes/guardians.js'
import { syncRoutes } from '../routes/sync.js'
import { problemOf } from './errors.js'
import { metricsRoutes } from './metrics.js'

export interface CloudAppDeps {
  readonly pool: Pool
  readonly box: CredentialBox
  readonly log: Logger
  readonly adminToken: string
  readonly maxSkewMs: number
  readonly now: () => number
}

/** The service's HTTP application, built apart from listening (tests call app.request()). */
export function buildCloudApp(deps: CloudAppDeps): H3 {
  let requests: ReturnType<typeof metricsRoutes> | undefined
  const app = new H3({
    silent: true,
    onError(error) {
      if (error.status >= 500) deps.log.error({ err: error.cause ?? error }, 'request error')
      return problemOf(error)
    },
    onResponse(response, event) {
      requests?.inc({ method: event.req.method, status: String(response.status) })
    },
  })
  // Bodies are bounded before anything reads them (a batch of 500 events is well under it).
  app.use(bodyLimit(4 * 1024 * 1024))
  app.get('/health', () => ({ status: 'ok' }))
  requests = metricsRoutes(app, deps)
  adminRoutes(app, deps)
  enrolRoutes(app, deps)
  guardianRoutes(app, deps)
  syncRoutes(app, deps)
  return app
}
