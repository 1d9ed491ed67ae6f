import { createHmac, randomBytes } from 'node:crypto'
import { isIP } from 'node:net'

/**
 * Signed requests to the cloud service (cloud-sync/src/http/signature.ts verifies them): the ingest
 * webhook's scheme — HMAC-SHA256 with the gateway's secret over "<unix seconds>.<nonce>.<METHOD> <path>.<body>",
 * X-Timestamp / X-Nonce / X-Signature — plus X-Gateway-Id. HTTPS only, except to a service on this machine.
 */
export function signRequest(secret: string, unixSeconds: string, method: string, pathAndQuery: string, body: string, nonce = ''): string {
  const head = nonce ? `${unixSeconds}.${nonce}.` : `${unixSeconds}.`
  return `sha256=${createHmac('sha256', secret).update(`${head}${method.toUpperCase()} ${pathAndQuery}.`).update(body).digest('hex')}`
}

export interface CloudAnswer {
  readonly status: number
  readonly body: unknown
}

export class CloudError extends Error {
  /** 'rejected': the service refused this request (4xx other than 408/429) — resending will not help. */
  readonly kind: 'rejected' | 'unauthorized' | 'unavailable'
  constructor(kind: CloudError['kind'], message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.kind = kind
  }
}

export function assertCloudUrl(url: string): URL {
  const u = new URL(url)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  const local = host === 'localhost' || (isIP(host) !== 0 && (host.startsWith('127.') || host === '::1'))
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && local)) {
    throw new Error(`the cloud URL must be https:// (plain http only to a service on this machine): ${url}`)
  }
  return u
}

export class CloudClient {
  readonly #base: URL
  readonly #gatewayId: string
  readonly #secret: () => Promise<string | undefined>
  readonly #timeoutMs: number
  readonly #now: () => number

  constructor(o: { url: string; gatewayId: string; secret: () => Promise<string | undefined>; timeoutMs: number; now: () => number }) {
    this.#base = assertCloudUrl(o.url)
    this.#gatewayId = o.gatewayId
    this.#secret = o.secret
    this.#timeoutMs = o.timeoutMs
    this.#now = o.now
  }

  async send(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<CloudAnswer> {
    const secret = await this.#secret()
    if (!secret) throw new CloudError('unauthorized', 'no cloud credential: run carehub cloud enroll <url> <code>')
    const url = new URL(path.replace(/^\//, ''), this.#base.href.endsWith('/') ? this.#base : `${this.#base.href}/`)
    const body = payload === undefined ? '' : JSON.stringify(payload)
    const ts = String(Math.floor(this.#now() / 1000))
    // A fresh nonce per request: a retry within the same second is a new request, never a "replay".
    const nonce = randomBytes(16).toString('base64url')
    let res: Response
    try {
      res = await fetch(url, {
        method,
        headers: {
          'content-type': 'application/json',
          'x-gateway-id': this.#gatewayId,
          'x-timestamp': ts,
          'x-nonce': nonce,
          'x-signature': signRequest(secret, ts, method, url.pathname + url.search, body, nonce),
        },
        ...(method === 'POST' ? { body } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: 'error',
      })
    } catch (err) {
      throw new CloudError('unavailable', `the cloud service at ${this.#base.host} did not answer: ${(err as Error).message}`, { cause: err })
    }
    const text = await res.text()
    const answer = { status: res.status, body: text ? safeJson(text) : null }
    if (res.ok) return answer
    const detail = (answer.body as { detail?: string } | null)?.detail ?? text.slice(0, 200)
    if (res.status === 401 || res.status === 403)
      throw new CloudError('unauthorized', `the cloud service refused the credential (${res.status}): ${detail}`)
    // A replay refusal means this exact request (same second, same body) was seen: a retry with a
    // new timestamp is fine — never treat it as the service refusing the data.
    const replay = (answer.body as { code?: string } | null)?.code === 'CLOUD_ERR_REPLAY'
    if (res.status >= 500 || res.status === 408 || res.status === 429 || replay) {
      throw new CloudError('unavailable', `the cloud service answered ${res.status}: ${detail}`)
    }
    throw new CloudError('rejected', `the cloud service refused the request (${res.status}): ${detail}`)
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
