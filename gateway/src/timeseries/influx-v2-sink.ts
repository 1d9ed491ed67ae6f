import { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client'
import type { Logger } from 'pino'
import { briefBody, failureKindOf, SinkError, type TimeSeriesSink } from './sink.js'

export interface InfluxV2Settings {
  readonly url: string
  readonly org: string
  readonly bucket: string
  readonly token?: string | undefined
  readonly timeoutMs: number
}

/**
 * InfluxDB v2 write API through @influxdata/influxdb-client (InfluxDB 2.x/3.x, VictoriaMetrics).
 * The client's own batching and retries are switched off (batch larger than ours, no flush timer,
 * maxRetries 0): the forwarder owns retries, because only it can advance the journal cursor after
 * a 2xx. gzip above 1 kB is the client's default.
 */
export class InfluxV2Sink implements TimeSeriesSink {
  readonly name = 'influx-v2'
  readonly #client: InfluxDB
  readonly #s: InfluxV2Settings

  constructor(settings: InfluxV2Settings, log: Logger) {
    this.#s = settings
    // The library logs failed writes to the console by itself (dependencies notes §5); route it to
    // pino at debug — the forwarder logs each failure episode once, with context.
    setLogger({ error: (message, err) => log.debug({ err }, message), warn: (message, err) => log.debug({ err }, message) })
    this.#client = new InfluxDB({ url: settings.url, token: settings.token, timeout: settings.timeoutMs })
  }

  async write(lines: readonly string[]): Promise<void> {
    const api = this.#client.getWriteApi(this.#s.org, this.#s.bucket, 'ms', {
      batchSize: lines.length + 1,
      flushInterval: 0,
      maxRetries: 0,
      gzipThreshold: 1000,
    })
    api.writeRecords(lines as string[])
    try {
      await api.flush()
    } catch (err) {
      if (err instanceof HttpError) {
        throw new SinkError(failureKindOf(err.statusCode), err.statusCode, `HTTP ${err.statusCode}: ${briefBody(err.body) || err.message}`, {
          cause: err,
        })
      }
      throw new SinkError('unavailable', undefined, (err as Error).message, { cause: err })
    } finally {
      await api.dispose()
    }
  }

  async close(): Promise<void> {}
}
