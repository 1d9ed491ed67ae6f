import { constants, gzipSync } from 'node:zlib'

/**
 * Where forwarded points go. A sink writes one batch of line-protocol lines and either resolves
 * (the server answered 2xx) or throws a SinkError saying what kind of failure it was, so the
 * forwarder can decide: retry later, or split the batch to find the points the server refuses.
 */
export interface TimeSeriesSink {
  /** Short name for metrics and logs: influx-v2, influx-v1. */
  readonly name: string
  write(lines: readonly string[]): Promise<void>
  close(): Promise<void>
}

/**
 * - rejected: the server refused the data itself (400 bad line / type conflict, 413 too large,
 *   422 unprocessable) — retrying the same bytes cannot help; split and dead-letter the culprit.
 * - unauthorized (401/403) and misconfigured (404: no such bucket or database): an installer must act;
 *   the data is fine, so keep it and retry slowly.
 * - unavailable: network errors, timeouts, 429 and 5xx — retry with backoff.
 */
export type SinkFailureKind = 'rejected' | 'unauthorized' | 'misconfigured' | 'unavailable'

export class SinkError extends Error {
  readonly kind: SinkFailureKind
  readonly status: number | undefined

  constructor(kind: SinkFailureKind, status: number | undefined, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SinkError'
    this.kind = kind
    this.status = status
  }
}

export function failureKindOf(status: number): SinkFailureKind {
  if (status === 400 || status === 413 || status === 422) return 'rejected'
  if (status === 401 || status === 403) return 'unauthorized'
  if (status === 404) return 'misconfigured'
  return 'unavailable'
}

/** Server error bodies can be long HTML pages; keep the first line of sense. */
export function briefBody(body: string | undefined): string {
  if (!body) return ''
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown }
    const text = parsed.error ?? parsed.message
    if (typeof text === 'string') return text.slice(0, 300)
  } catch {}
  return body.replace(/\s+/g, ' ').trim().slice(0, 300)
}

/** Below this a body goes as it is: gzip's header and a short line's poor ratio buy nothing. */
const GZIP_ABOVE_BYTES = 1000

/**
 * The request body for a batch of lines and its content headers, gzipped when it is worth it
 * (InfluxDB 1.x and 2.x and VictoriaMetrics accept Content-Encoding: gzip). Line protocol repeats
 * itself (measurement, tags, field keys on every line): on bench lines the fastest level compresses
 * 21.6× against the default level's 22.0×, at a quarter of the CPU (0.30 against 1.22 µs per point).
 *
 * Synchronous on purpose: the sinks run in the forwarder's worker thread, which runs at a lowered
 * priority (module-worker.ts, BACKGROUND_NICE), so a catch-up's compression takes the CPU the
 * broker and the API leave. zlib's callback API would run it on libuv's thread pool at the
 * process's priority instead, beside the main thread (the InfluxDB client did, at level 6).
 */
export function lineBody(lines: readonly string[]): { readonly body: Buffer; readonly headers: Record<string, string> } {
  const text = Buffer.from(lines.join('\n'))
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' }
  if (text.length <= GZIP_ABOVE_BYTES) return { body: text, headers }
  headers['content-encoding'] = 'gzip'
  return { body: gzipSync(text, { level: constants.Z_BEST_SPEED }), headers }
}
