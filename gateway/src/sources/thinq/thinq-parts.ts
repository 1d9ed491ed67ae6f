import type { Logger } from 'pino'
import type { ThinqConfig } from '../../config/sources-schema.js'
import type { Clock } from '../../core/clock.js'
import type { HealthCheck, Service } from '../../core/service.js'
import type { JournalCommitter } from '../../store/journal-committer.js'
import type { Db } from '../../store/open.js'
import { ThinqConnectApi } from './thinq-client.js'
import { ThinqPoller } from './thinq-poller.js'
import { baseUrlOf } from './thinq-protocol.js'

export interface ThinqPartsDeps {
  readonly config: ThinqConfig
  readonly db: () => Db
  readonly committer: JournalCommitter
  readonly clock: Clock
  readonly log: Logger
  readonly gatewayId: () => string
  readonly secret: (name: string) => Promise<string | undefined>
}

/** The ThinQ source when enabled: the Connect API client and the poller (which also controls appliances). */
export function buildThinq(d: ThinqPartsDeps): { poller: ThinqPoller | undefined; services: Service[]; healthChecks: HealthCheck[] } {
  const c = d.config
  if (!c.enabled || !c.apiKey) return { poller: undefined, services: [], healthChecks: [] }
  let poller: ThinqPoller | undefined
  const api = new ThinqConnectApi({
    baseUrl: c.baseUrl ?? baseUrlOf(c.country),
    country: c.country,
    get clientId() {
      return c.clientId ?? `carehub-${d.gatewayId()}`
    },
    apiKey: c.apiKey,
    token: () => d.secret('thinq.pat'),
    timeoutMs: c.timeoutMs,
    onRequest: () => poller?.counted(),
  })
  poller = new ThinqPoller({
    api,
    db: d.db,
    committer: d.committer,
    clock: d.clock,
    log: d.log,
    intervalOf: (type) => c.pollSecondsByType[type] ?? c.pollSeconds,
    requestsPerHour: c.requestsPerHour,
    tickMs: 1000,
  })
  return { poller, services: [poller], healthChecks: [poller.healthCheck] }
}
