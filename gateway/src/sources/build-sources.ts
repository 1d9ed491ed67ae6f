import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Config } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import type { HealthCheck, Service } from '../core/service.js'
import type { NormalizeLimits } from '../normalize/mqtt-reading.js'
import type { JournalCommitter } from '../store/journal-committer.js'
import type { Db } from '../store/open.js'
import { buildHomeAssistant, type HaParts } from './homeassistant/ha-parts.js'
import { MqttIngest } from './mqtt/mqtt-ingest.js'
import type { Presence } from './mqtt/presence.js'
import { buildThinq } from './thinq/thinq-parts.js'
import type { ThinqPoller } from './thinq/thinq-poller.js'

export interface SourcesDeps {
  readonly config: Readonly<Config>
  readonly db: () => Db
  readonly committer: JournalCommitter
  readonly presence: Presence
  readonly clock: Clock
  readonly log: (module: string) => Logger
  readonly registry: Registry
  readonly gatewayId: () => string
  /** Every value of a secret accepted now (current, and the previous one during a rotation). */
  readonly secrets: (name: string) => Promise<readonly string[]>
}

/** Every source of readings (DESIGN: sources/ — one folder per source, same shape), built together. */
export interface Sources {
  readonly mqtt: MqttIngest
  /** What every source accepts (the MQTT broker worker validates with them). */
  readonly limits: NormalizeLimits
  readonly homeassistant: HaParts
  readonly thinq: ThinqPoller | undefined
  /** In start order, after the journal. */
  readonly services: readonly Service[]
  readonly healthChecks: readonly HealthCheck[]
}

export function buildSources(d: SourcesDeps): Sources {
  const { config } = d
  const limits: NormalizeLimits = {
    maxPayloadBytes: config.ingest.maxPayloadBytes,
    maxFutureMs: config.ingest.maxFutureSeconds * 1000,
    maxPastMs: config.ingest.maxPastDays * 86_400_000,
  }
  const mqtt = new MqttIngest({ committer: d.committer, presence: d.presence, registry: d.registry })
  const homeassistant = buildHomeAssistant({
    config: config.homeassistant,
    db: d.db,
    committer: d.committer,
    clock: d.clock,
    log: d.log('homeassistant'),
    registry: d.registry,
    limits,
    secrets: d.secrets,
  })
  const thinq = buildThinq({
    config: config.thinq,
    db: d.db,
    committer: d.committer,
    clock: d.clock,
    log: d.log('thinq'),
    gatewayId: d.gatewayId,
    secret: async (name) => (await d.secrets(name))[0],
  })
  return {
    mqtt,
    limits,
    homeassistant,
    thinq: thinq.poller,
    services: [...homeassistant.services, ...thinq.services],
    healthChecks: [...(homeassistant.source ? [homeassistant.source.healthCheck] : []), ...thinq.healthChecks],
  }
}
