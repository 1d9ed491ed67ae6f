import { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client'
import type { Logger } from 'pino'
import { briefBody, failureKindOf, SinkError, type TimeSeriesSink } from './sink.js'

export interface InfluxV2Settings {
  readonly url: string
  readonly org: string
  readonly bucket: string
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
  readonly #s: InfluxV2Settings
  readonly #token: () => Promise<string | undefined>
  #client: { token: string | undefined; api: InfluxDB } | undefined

  /** `token` is read at each write (from the encrypted secret store), so a rotated token applies at once. */
  constructor(settings: InfluxV2Settings, log: Logger, token: () => Promise<string | undefined>) {
    this.#s = settings
    this.#token = token
    // The library logs failed writes to the console by itself (dependencies notes §5); route it to
    // pino at debug — the forwarder logs each failure episode once, with context.
    setLogger({ error: (message, err) => log.debug({ err }, message), warn: (message, err) => log.debug({ err }, message) })
  }

  async write(lines: readonly string[]): Promise<void> {
    const token = await this.#token()
    const client =
      this.#client && this.#client.token === token
        ? this.#client
        : { token, api: new InfluxDB({ url: this.#s.url, token, timeout: this.#s.timeoutMs }) }
    this.#client = client
    const api = client.api.getWriteApi(this.#s.org, this.#s.bucket, 'ms', {
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
