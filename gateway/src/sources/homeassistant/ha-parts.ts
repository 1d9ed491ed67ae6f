import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { HomeAssistantConfig } from '../../config/sources-schema.js'
import type { Clock } from '../../core/clock.js'
import type { Service } from '../../core/service.js'
import type { NormalizeLimits } from '../../normalize/mqtt-reading.js'
import type { JournalCommitter } from '../../store/journal-committer.js'
import type { Db } from '../../store/open.js'
import { HaIngest } from './ha-ingest.js'
import { HaRest } from './ha-rest.js'
import { HaSource } from './ha-source.js'
import { WebhookGuard } from './webhook-guard.js'

export interface HaPartsDeps {
  readonly config: HomeAssistantConfig
  readonly db: () => Db
  readonly committer: JournalCommitter
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  readonly limits: NormalizeLimits
  /** Encrypted secrets: homeassistant.token, ha-webhook.<client>. */
  readonly secrets: (name: string) => Promise<readonly string[]>
}

/** The Home Assistant source: one ingest path shared by the webhook, the WebSocket client and REST polling. */
export interface HaParts {
  readonly ingest: HaIngest
  readonly guard: WebhookGuard
  /** Present when a Home Assistant URL is configured: REST calls, also for device control (actions layer). */
  readonly rest: HaRest | undefined
  readonly source: HaSource | undefined
  readonly services: readonly Service[]
}

export function buildHomeAssistant(d: HaPartsDeps): HaParts {
  const ingest = new HaIngest({
    db: d.db,
    committer: d.committer,
    clock: d.clock,
    log: d.log,
    registry: d.registry,
    rules: d.config.entities,
    limits: d.limits,
  })
  const guard = new WebhookGuard({
    // The feature flag covers the webhook too: a disabled source accepts nothing.
    clients: d.config.enabled ? d.config.webhook.clients : [],
    maxSkewMs: d.config.webhook.maxSkewSeconds * 1000,
    secrets: (clientId) => d.secrets(`ha-webhook.${clientId}`),
    now: () => d.clock.now(),
  })
  const token = async () => (await d.secrets('homeassistant.token'))[0]
  const rest = d.config.url ? new HaRest(d.config.url, token) : undefined
  const source =
    d.config.enabled && rest && d.config.url
      ? new HaSource({
          url: d.config.url,
          websocket: d.config.websocket,
          token,
          rest,
          ingest,
          log: d.log,
          pollMs: d.config.pollSeconds * 1000,
          pingMs: d.config.pingSeconds * 1000,
          pongTimeoutMs: 10_000,
          backoffMinMs: 1000,
          backoffMaxMs: 60_000,
        })
      : undefined
  return { ingest, guard, rest, source, services: source ? [source] : [] }
}
