import type { Logger } from 'pino'
import type { InfluxConfig } from '../config/history-schema.js'
import { InfluxV1Sink } from './influx-v1-sink.js'
import { InfluxV2Sink } from './influx-v2-sink.js'
import type { TimeSeriesSink } from './sink.js'

/** The sink the configuration names; credentials are read per write (a changed secret takes effect at once). */
export function createSink(influx: InfluxConfig, log: Logger, secret: (name: string) => Promise<string | undefined>): TimeSeriesSink {
  return influx.version === 2
    ? new InfluxV2Sink(influx, log, () => secret('influx.token'))
    : new InfluxV1Sink(influx, () => secret('influx.password'))
}
