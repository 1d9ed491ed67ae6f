import { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client'
import type { Logger } from 'pino'
import { briefBody, failureKindOf, lineBody, SinkError, type TimeSeriesSink } from './sink.js'

export interface InfluxV2Settings {
  readonly url: string
  readonly org: string
  readonly bucket: string
  readonly timeoutMs: number
}

/**
 * InfluxDB v2 write API (InfluxDB 2.x/3.x, VictoriaMetrics) through @influxdata/influxdb-client's
 * transport: the client's URL handling, token header, timeout and HttpError, with our body. Not its
 * WriteApi: that one batches and retries by itself (the forwarder owns retries, because only it can
 * advance the journal cursor after a 2xx) and gzips at zlib's default level on libuv's thread pool,
 * where a catch-up's compression competed with the broker at full priority (sink.ts, lineBody).
 */
export class InfluxV2Sink implements TimeSeriesSink {
  readonly name = 'influx-v2'
  readonly #path: string
  readonly #s: InfluxV2Settings
  readonly #token: () => Promise<string | undefined>
  #client: { token: string | undefined; api: InfluxDB } | undefined

  /** `token` is read at each write (from the encrypted secret store), so a rotated token applies at once. */
  constructor(settings: InfluxV2Settings, log: Logger, token: () => Promise<string | undefined>) {
    this.#s = settings
    this.#token = token
    const query = new URLSearchParams({ org: settings.org, bucket: settings.bucket, precision: 'ms' })
    this.#path = `/api/v2/write?${query}`
    // The library logs failed requests to the console by itself (dependencies notes §5); route it to
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
    const { body, headers } = lineBody(lines)
    try {
      await new Promise<void>((resolve, reject) =>
        // The type says string; the Node transport takes the body through Buffer.from, so a Buffer
        // goes as it is (`request` would JSON-encode it). sink-auth.test reads what arrives.
        client.api.transport.send(this.#path, body as unknown as string, { method: 'POST', headers }, { error: reject, complete: resolve }),
      )
    } catch (err) {
      if (err instanceof HttpError) {
        throw new SinkError(failureKindOf(err.statusCode), err.statusCode, `HTTP ${err.statusCode}: ${briefBody(err.body) || err.message}`, {
          cause: err,
        })
      }
      throw new SinkError('unavailable', undefined, (err as Error).message, { cause: err })
    }
  }

  async close(): Promise<void> {}
}
