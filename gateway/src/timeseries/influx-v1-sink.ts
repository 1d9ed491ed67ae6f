import { briefBody, failureKindOf, lineBody, SinkError, type TimeSeriesSink } from './sink.js'

export interface InfluxV1Settings {
  readonly url: string
  readonly database: string
  readonly retentionPolicy?: string | undefined
  readonly username?: string | undefined
  readonly timeoutMs: number
}

/**
 * InfluxDB 1.x `/write` with line protocol (1.6 has no /api/v2/write; dependencies notes §5), the
 * body gzipped (sink.ts, lineBody).
 * Credentials go in a Basic header rather than the query string, so they stay out of access logs.
 */
export class InfluxV1Sink implements TimeSeriesSink {
  readonly name = 'influx-v1'
  readonly #url: URL
  readonly #timeoutMs: number
  readonly #username: string | undefined
  readonly #password: () => Promise<string | undefined>

  /** `password` is read at each write (from the encrypted secret store), so a change applies at once. */
  constructor(s: InfluxV1Settings, password: () => Promise<string | undefined>) {
    this.#url = new URL('/write', s.url)
    this.#url.searchParams.set('db', s.database)
    this.#url.searchParams.set('precision', 'ms')
    if (s.retentionPolicy) this.#url.searchParams.set('rp', s.retentionPolicy)
    this.#username = s.username
    this.#password = password
    this.#timeoutMs = s.timeoutMs
  }

  async write(lines: readonly string[]): Promise<void> {
    const { body, headers } = lineBody(lines)
    if (this.#username !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.#username}:${(await this.#password()) ?? ''}`).toString('base64')}`
    }
    let res: Response
    try {
      res = await fetch(this.#url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.#timeoutMs) })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      throw new SinkError('unavailable', undefined, cause?.code ?? (err as Error).message, { cause: err })
    }
    if (res.ok) {
      await res.body?.cancel()
      return
    }
    const text = await res.text().catch(() => '')
    throw new SinkError(failureKindOf(res.status), res.status, `HTTP ${res.status}: ${briefBody(text) || res.statusText}`)
  }

  async close(): Promise<void> {}
}
