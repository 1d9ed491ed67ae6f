import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { HistoryConfig, InfluxConfig } from '../config/history-schema.js'
import type { Clock } from '../core/clock.js'
import type { HealthCheck, Service } from '../core/service.js'
import { recentFields } from '../store/journal-reads.js'
import type { Db } from '../store/open.js'
import { AnomalyDetector } from './anomaly-detector.js'
import { ForwarderHost } from './forwarder-host.js'
import { HistoryJanitor } from './history-janitor.js'
import { RollupService } from './rollup-service.js'

export interface HistoryDeps {
  readonly history: HistoryConfig
  readonly influx: InfluxConfig | undefined
  readonly db: () => Db
  /** The rollup database (store/rollup-db.ts). */
  readonly rollupDb: () => Db
  readonly clock: Clock
  readonly log: (module: string) => Logger
  readonly registry: Registry
  /** Encrypted secrets: influx.token (v2) and influx.password (v1). */
  readonly secret: (name: string) => Promise<string | undefined>
  /** The rules engine's cursor: readings after it are still to be evaluated. */
  readonly rulesCursor?: () => number
  /** A write inside the journal's next group commit (JournalCommitter.write): the forwarder's cursor rides there. */
  readonly write: (fn: (db: Db) => void) => Promise<void>
}

/** The time-series parts, built together because they share cursors: rollups, forwarder, janitor, anomaly flags. */
export interface HistoryParts {
  readonly detector: AnomalyDetector
  readonly rollups: RollupService
  readonly forwarder: ForwarderHost | undefined
  readonly janitor: HistoryJanitor
  /** In start order. */
  readonly services: readonly Service[]
  readonly healthChecks: readonly HealthCheck[]
}

export function buildHistory(d: HistoryDeps): HistoryParts {
  const detector = new AnomalyDetector(d.history.anomaly, (deviceId, measurement) =>
    recentFields(d.db(), deviceId, measurement, d.history.anomaly.window),
  )
  const rollups = new RollupService({
    db: d.db,
    rollupDb: d.rollupDb,
    clock: d.clock,
    log: d.log('rollups'),
    registry: d.registry,
    flushMs: d.history.rollupFlushMs,
  })
  const forwarder =
    d.influx &&
    new ForwarderHost({
      db: d.db,
      influx: d.influx,
      clock: d.clock,
      log: d.log('influx'),
      registry: d.registry,
      secret: d.secret,
      write: d.write,
    })
  const janitor = new HistoryJanitor({
    db: d.db,
    rollupDb: d.rollupDb,
    clock: d.clock,
    log: d.log('history'),
    registry: d.registry,
    settings: d.history,
    neededAfter: () => Math.min(rollups.cursor, forwarder?.cursor ?? Number.POSITIVE_INFINITY, d.rulesCursor?.() ?? Number.POSITIVE_INFINITY),
    forwardCursor: () => forwarder?.cursor,
  })
  return {
    detector,
    rollups,
    forwarder,
    janitor,
    services: forwarder ? [rollups, forwarder, janitor] : [rollups, janitor],
    healthChecks: forwarder ? [forwarder.healthCheck] : [],
  }
}
