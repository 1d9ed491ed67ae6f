import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * How a gateway signs its requests: the ingest webhook's scheme (HMAC-SHA256 over the timestamp and
 * the body, `X-Timestamp` in Unix seconds, `X-Signature: sha256=<hex>`), extended by the request
 * line so a signed GET cannot be replayed against another path or query, and by an optional
 * `X-Nonce` (16–64 characters [A-Za-z0-9_-], signed after the timestamp). The gateway's uploader
 * signs with the same function (gateway/src/sync/cloud-client.ts keeps its copy in step; a test
 * signs with one and verifies with the other).
 */
export function signRequest(secret: string, unixSeconds: string, method: string, pathAndQuery: string, body: string, nonce = ''): string {
  // With X-Nonce (random per request) two identical requests in one second are two requests, not a replay.
  const head = nonce ? `${unixSeconds}.${nonce}.` : `${unixSeconds}.`
  return `sha256=${createHmac('sha256', secret).update(`${head}${method.toUpperCase()} ${pathAndQuery}.`).update(body).digest('hex')}`
}

export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
