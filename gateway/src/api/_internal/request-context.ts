import { randomUUID } from 'node:crypto'
import type { H3Event, Middleware } from 'h3'
import type { Logger } from 'pino'
import type { Metrics } from '../../system/metrics.js'

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

declare module 'h3' {
  interface H3EventContext {
    requestId?: string
    log?: Logger
    startedAt?: number
  }
}

/**
 * Gives every request an id (the caller's X-Request-Id when it is safe to echo, else a UUID), a
 * child logger carrying it, the id on the response — also on error responses, which h3 v2 only
 * sends `errHeaders` with (dependencies notes §4) — one access-log line and a histogram sample.
 */
export function requestContext(log: Logger): Middleware {
  return async (event, next) => {
    const incoming = event.req.headers.get('x-request-id')
    const requestId = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
    event.context.requestId = requestId
    event.context.log = log.child({ reqId: requestId })
    event.context.startedAt = performance.now()
    event.res.headers.set('x-request-id', requestId)
    event.res.errHeaders.set('x-request-id', requestId)
    return next()
  }
}

/** Called once per response (success or error) from the app's onResponse hook. */
export function recordResponse(event: H3Event, status: number, metrics: Metrics): void {
  const started = event.context.startedAt ?? performance.now()
  const seconds = (performance.now() - started) / 1000
  const route = event.context.matchedRoute?.route ?? 'unmatched'
  metrics.httpDuration.observe({ method: event.req.method, route, status: String(status) }, seconds)
  const line = { method: event.req.method, path: event.url.pathname, route, status, ms: Math.round(seconds * 1e4) / 10 }
  const log = event.context.log
  if (!log) return
  // 5xx causes are logged once, at error level, by the app's onError; this is the access line.
  log.info(line, 'request')
}
